"""`make bench`: the mock's speed against Prism, and the time the suites take to catch faults."""
