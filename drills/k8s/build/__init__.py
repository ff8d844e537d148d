"""What `gameday cluster up` builds on a machine with Docker and no container registry.

kind from its Go module, a kind node image assembled from Debian packages and locally built Kubernetes
binaries, and the Hospital-ERP images (backend releases, PostgreSQL, PgBouncer, Prometheus, Alertmanager,
the cluster exporter) from Debian packages and PyPI.  Every product is cached outside the repository
(``$GAMEDAY_CACHE``, default ``/var/cache/gameday``) under a key made of the versions and the build inputs,
so a warm ``gameday cluster up`` builds nothing.
"""
