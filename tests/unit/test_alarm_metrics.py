"""The AWS/SQS and AWS/ApplicationELB metrics the local cloud derives for alarms."""

from __future__ import annotations

from tradai.topology import default_topology
from tradai.topology.naming import physical_name
from tradai_sim.cloud.alarms import alb_metrics, dimensions
from tradai_sim.cloud.alarms.sqs_metrics import MessageView, queue_metrics

AT = 1_800_000_059.0


def msg(arrived: float, in_flight: bool = False, delayed: bool = False,
        receives: int = 0) -> MessageView:
    return MessageView(arrived=arrived, in_flight=in_flight, delayed=delayed, receives=receives)


def values(datums: list) -> dict[str, float]:  # type: ignore[type-arg]
    return {d.name: d.value for d in datums}


def test_visible_counts_messages_neither_in_flight_nor_delayed() -> None:
    """ApproximateNumberOfMessagesVisible: "The number of messages currently available for
    retrieval"; NotVisible: in flight, "received but not yet deleted or expired"; both per
    QueueName.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
    """
    datums = queue_metrics("q", False, [msg(AT - 5), msg(AT - 4, in_flight=True),
                                        msg(AT - 3, delayed=True), msg(AT - 2)], AT)
    assert values(datums)["ApproximateNumberOfMessagesVisible"] == 2
    assert values(datums)["ApproximateNumberOfMessagesNotVisible"] == 1
    assert {d.dimensions for d in datums} == {(("QueueName", "q"),)}
    assert {d.timestamp for d in datums} == {AT}


def test_fifo_message_behind_an_in_flight_message_of_its_group_is_visible() -> None:
    """In a FIFO queue a message whose group has a message in flight cannot be received yet,
    but it is not in flight: it is counted as visible, the in-flight one as not visible.

    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
    """
    datums = queue_metrics("q.fifo", True, [msg(AT - 9, in_flight=True), msg(AT - 8)], AT)
    assert values(datums)["ApproximateNumberOfMessagesVisible"] == 1
    assert values(datums)["ApproximateNumberOfMessagesNotVisible"] == 1


def test_not_visible_and_age_are_reported_only_when_there_is_something_to_report() -> None:
    """NotVisible is "Reported if in-flight messages exist"; ApproximateAgeOfOldestMessage is
    "Reported if the queue contains at least one active message"; Visible is reported for an
    active queue, zero included.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
    """
    assert values(queue_metrics("q", False, [], AT)) == {"ApproximateNumberOfMessagesVisible": 0}
    assert "ApproximateNumberOfMessagesNotVisible" not in values(
        queue_metrics("q", False, [msg(AT)], AT))


def test_age_of_oldest_message_counts_in_flight_messages_in_simulated_seconds() -> None:
    """ApproximateAgeOfOldestMessage: "The age of the oldest unprocessed message in the queue",
    in seconds (here simulated seconds since it arrived in this queue).
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
    """
    datums = queue_metrics("q", False, [msg(AT - 600, in_flight=True), msg(AT - 30)], AT)
    age = next(d for d in datums if d.name == "ApproximateAgeOfOldestMessage")
    assert (age.value, age.unit) == (600.0, "Seconds")


def test_standard_queue_age_skips_messages_received_three_times_fifo_does_not() -> None:
    """"For standard queues, if a message is received three or more times and not deleted, SQS
    moves it to the back of the queue. The metric then reflects the age of the next message";
    "FIFO queues don't reorder messages".
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
    """
    messages = [msg(AT - 900, receives=3), msg(AT - 60, receives=1)]
    assert values(queue_metrics("q", False, messages, AT))["ApproximateAgeOfOldestMessage"] == 60
    assert values(queue_metrics("q.fifo", True, messages, AT))[
        "ApproximateAgeOfOldestMessage"] == 900


def test_healthy_and_unhealthy_host_counts_per_target_group() -> None:
    """HealthyHostCount / UnHealthyHostCount per target group, dimensions TargetGroup and
    LoadBalancer (``targetgroup/NAME/ID``, ``app/NAME/ID``); a target still in its initial
    health check is neither.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
    """
    def name(logical: str) -> str:
        return physical_name("tradai", "local", logical)

    targets = {"backend-api": [{"state": "healthy"}, {"state": "unhealthy"},
                               {"state": "initial"}, {"state": "healthy"}],
               "data-collection": [{"state": "healthy"}]}
    datums = alb_metrics.target_metrics(targets, ["backend-api", "mlflow"], name, AT)
    got = {(d.name, dict(d.dimensions)["TargetGroup"]): d.value for d in datums}
    backend = dimensions.target_group(name, "backend-api")
    mlflow = dimensions.target_group(name, "mlflow")
    assert got == {("HealthyHostCount", backend): 2, ("UnHealthyHostCount", backend): 1,
                   ("HealthyHostCount", mlflow): 0, ("UnHealthyHostCount", mlflow): 0}
    assert backend.startswith("targetgroup/tradai-local-tg-backend-api/")
    assert len(backend.rsplit("/", 1)[1]) == 16
    assert {dict(d.dimensions)["LoadBalancer"] for d in datums} == {
        dimensions.load_balancer(name)}
    assert dimensions.load_balancer(name).startswith("app/tradai-local-alb/")


def test_spec_health_alarms_name_the_dimensions_the_metrics_are_published_with() -> None:
    """The bootstrap's alarms and the derived metrics must name the target group alike, or the
    alarm would watch a metric nobody publishes."""
    def name(logical: str) -> str:
        return physical_name("tradai", "local", logical)

    spec = default_topology()
    health = [a for a in spec.alarms if a.target_group is not None]
    assert {a.target_group for a in health} == {s.name for s in spec.services if s.load_balanced}
    for alarm in health:
        published = alb_metrics.target_metrics({}, [alarm.target_group], name, AT)[0]
        assert dimensions.alarm_dimensions(name, alarm) == [
            {"Name": n, "Value": v} for n, v in published.dimensions]
    dlq = next(a for a in spec.alarms if a.queue is not None)
    assert dimensions.alarm_dimensions(name, dlq) == [
        {"Name": "QueueName", "Value": name(dlq.queue)}]  # type: ignore[arg-type]
