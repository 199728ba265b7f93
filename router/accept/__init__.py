"""The accept path: a message request from its JSON to a 202 that promises the message is durable.

- `rules`: the message rules, plain functions (the API's serializers and any leaner path call them);
  `rendering`: templates rendered into a request's content; `requests`: the two made a MessageRequest.
- `prepare`: the envelope as Kafka will carry it (and the size check beside it) and the index row.
- `durability`: what a 202 waits for, one protocol for every accept (through router.kafka_acks, the
  producer's acknowledgements); `idempotency`: Idempotency-Keys; `outbox`: what Kafka did not take yet, and the
  relay's publishing of it.
- `services`: message_accept and messages_accept_batch, which the views call.

Its HTTP faces sit above it: router.views (messages, batch) and router.lean, the WSGI front that
answers valid POSTs of both before Django.
"""
