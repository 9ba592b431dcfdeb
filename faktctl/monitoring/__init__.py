"""`faktctl metrics` and the Prometheus alert rules: what a running deployment looks like as
Prometheus series, and the alerts that go with them.

- series: every metric family (name, type, help, labels), in one table; the docs page
  docs/metrics.md is generated from it;
- exposition: the Prometheus text format and OpenMetrics (pure);
- reading: what one scrape read, turned into samples (pure);
- collect: one read of the engine, the server and the backups (the I/O, through adapters);
- serve: the shared, time-bounded read behind `--listen`;
- rules: `prometheus/faktory-rules.yaml` from the spec's `monitoring:` section (pure);
- units: the systemd units `faktctl metrics --install` writes (pure).
"""
