"""A batch job run in a process of its own, so a test can SIGKILL it mid-run.

    python tests/batch/killed_job.py SETUP_JSON {seed|run|values}

SETUP_JSON holds the database settings, the checkpoint (kind and name or
path), the rows to seed, the batch size, and where to die: `kill_at` (the
index of the row whose fn() call kills the process, before its batch
commits) or `kill_in_save` (the checkpoint save after that batch's commit).
`run` prints the job's BatchResult as JSON; `values` the rows' values, which
are the verdict.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "example"), str(ROOT / "src"), str(ROOT)]


def main() -> None:
    setup = json.loads(sys.argv[1])
    import django
    from django.conf import settings

    if setup["database"]["ENGINE"].endswith("mysql"):
        from shopsite.databases import use_pymysql

        use_pymysql()
    settings.configure(
        DATABASES={"default": setup["database"]},
        INSTALLED_APPS=["django.contrib.contenttypes", "bigdata"],
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": setup.get("redis", "redis://127.0.0.1:6379/0"),
            }
        },
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    if sys.argv[2] == "seed":
        seed(setup["rows"])
    elif sys.argv[2] == "values":
        from bigdata.models import SomeModel

        print(json.dumps(sorted(SomeModel.objects.values_list("field", flat=True))))
    else:
        run(setup)


def seed(rows: int) -> None:
    from django.core.management import call_command

    from bigdata.models import SomeModel

    call_command("migrate", "bigdata", verbosity=0)
    SomeModel.objects.bulk_create(SomeModel(data={"n": n}, field=0) for n in range(rows))


def run(setup: dict) -> None:
    import djperf
    from bigdata.models import SomeModel
    from djperf.batch import CacheCheckpoint, FileCheckpoint, TableCheckpoint

    kind, where = setup["checkpoint"]
    checkpoint = {
        "table": TableCheckpoint,
        "file": FileCheckpoint,
        "cache": CacheCheckpoint,
    }[kind](where)
    kill_at = setup.get("kill_at")
    seen = 0

    def count(obj: SomeModel) -> None:
        nonlocal seen
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        seen += 1
        if setup.get("idempotent"):
            obj.field = obj.data["n"] + 1
        else:
            obj.field += 1  # not idempotent: a second pass would show

    kill_in_save = setup.get("kill_in_save")
    if kill_in_save is not None:
        saves = 0
        original = type(checkpoint).save

        def dying_save(self: object, state: dict) -> None:
            nonlocal saves
            saves += 1
            if saves == kill_in_save:
                os.kill(os.getpid(), signal.SIGKILL)
            original(self, state)  # type: ignore[arg-type]

        type(checkpoint).save = dying_save  # type: ignore[method-assign]

    result = djperf.update_in_batches(
        SomeModel.objects.all(), count, ["field"], setup["size"], checkpoint=checkpoint
    )
    print(json.dumps({"rows": result.rows, "resumed_after": result.resumed_after}))


if __name__ == "__main__":
    main()
