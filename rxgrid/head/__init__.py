"""The head node: gRPC services, job store, scheduler."""
