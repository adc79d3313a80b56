"""What both suites and the gate share: targets, keys, rules, clients and reports."""
