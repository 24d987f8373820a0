"""Jobs (issue 13): start a request or a batch, poll it, fetch results; survives restarts.

- ``store``     the SQLite database (per-user data dir, WAL, mode 0600), retention purge
- ``registry``  which routes run as jobs (``register_route``): analyze/text built in
- ``runner``    worker threads: LOW gate priority, retries, pause/resume/cancel, listeners
- ``routes``    the bottle app of /jobs (merged into the local app), ``open_jobs`` for the Service
- ``openapi``   the /jobs part of /openapi.json
"""

from gigachat.local.jobs.registry import ItemError, JobContext, JobRoute, register_route
from gigachat.local.jobs.routes import create_jobs_app, open_jobs
from gigachat.local.jobs.runner import JobEvent, JobRunner
from gigachat.local.jobs.store import Job, JobStore, jobs_path

__all__ = [
    "ItemError",
    "Job",
    "JobContext",
    "JobEvent",
    "JobRoute",
    "JobRunner",
    "JobStore",
    "create_jobs_app",
    "jobs_path",
    "open_jobs",
    "register_route",
]
