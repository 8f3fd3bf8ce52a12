"""What a drill run leaves for a reviewer: the journal, JUnit XML, an HTML page with the
timeline and a picture of the recovery, and an index page for a whole suite."""
