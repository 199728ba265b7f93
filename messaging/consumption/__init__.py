"""One consumption framework for every Kafka consumer of the project (channel workers, log indexer,
status webhooks): a chain of steps in the manner of Sentry's arroyo, run by one runner.

    consume a batch → admit (due gate, errors) → step → step → … → commit offsets (always last)

- `Item` (items.py): one record on its way through the chain, with what the steps made of it.
- `Step` (steps.py): one stage, run over a whole batch at a time; a step may reject an item
  (→ dead letter, never retried) or raise (→ the guard retries, then isolates the poison).
- `StepGuard` (guard.py): retries a failing step, splits its batch until the one item that keeps
  failing is found, dead-letters it, and stops the consumer loudly when too many go in a row.
- `DueGate` (due_gate.py): pauses a partition until its head record is due (retry topics).
- `ConsumerRunner` (runner.py): the loop; offsets are stored only after every step succeeded for a
  record and `before_commit` (e.g. flushing log events) says so.
- `ConsumerDefinition` (definitions.py): a consumer declared as data (topics, group, steps, dead-letter
  sink, failure classifier, batch limits, gates); apps register theirs in the table (registry.py)
  from their AppConfig.ready(), and `run_consumer` (assembly.py) builds and runs any entry.

Why not sentry-arroyo itself (2.48, evaluated for this): its StreamProcessor subscribes one topic,
and its only way for a step to hold a record back is `MessageRejected`, after which the processor
pauses *every* assigned partition (processor.py, `_run_once`). A retry topic whose head record is
due in a minute would then stall `send.<channel>` and every other retry level, which docs/architecture.md forbids
("a failing message never delays healthy ones"). It also closes and rebuilds the whole strategy on any
rebalance, even an incremental (cooperative-sticky) one, and its DLQ producer writes the original
record without our error headers. What it teaches is kept: steps with contracts, rejections as
signals, commit last, and `DlqLimit` (guard.py).
"""
