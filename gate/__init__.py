"""The CI gate, `maxgood-contract`: its scenarios, its run against a real server, its reports."""
