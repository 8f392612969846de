"""The parts of the OpenWhisk controller stand-in, one subject a module.

Tests use it through tests/openwhisk_standin.py (OpenWhiskStandIn); these
modules hold what it emulates: the wire (wire), the entities' fields (fields),
the entity store (store), each REST collection (actions, packages, triggers,
rules, activations), what an invocation produces (runs), the alarms feed
(alarms) and the routing of a request to its collection (controller).
"""
