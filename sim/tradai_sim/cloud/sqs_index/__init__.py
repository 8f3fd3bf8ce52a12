"""SQS at depth: indexes moto's queues so send, receive, delete and change-visibility cost the
same at 10,000 waiting messages as at none, as they do on AWS."""
