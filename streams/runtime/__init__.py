"""What every stage runs on: the process supervisor, the Faust app, the confluent-kafka
loop, batching, the checkpoint, outputs, the error policy, health and readiness."""
