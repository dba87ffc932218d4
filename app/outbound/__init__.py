"""Outbound: alerts and numerics leave iaewatch for alarm managers (IHE PCD-04), EHR
interfaces (IHE PCD-01) and webhooks, through a durable per-endpoint outbox (docs/integration.md).

`config` (the ICU file's `outbound:` section), `messages` (what each kind receives, rendered
when queued), `replies` (what an answer means), `transports` (MLLP, HTTP), `sender` (one
endpoint's queue, in order, with backoff), `health` (what the engineer sees), `service`
(the wiring into the running app).
"""
