"""The client side: clusters, jobs, the embedded local cluster and the sequential context."""
