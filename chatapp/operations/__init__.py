"""Operations: health and readiness probes, Prometheus metrics, backups (docs/operations.md)."""
