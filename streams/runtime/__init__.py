"""What every stage runs on: the process supervisor, the Faust app, the confluent-kafka
input loop, batching, the checkpoint, outputs, the error policy, health and readiness."""
