"""Beat's scheduler: RedBeat's, kept alive while Redis is away (CELERY_BEAT_SCHEDULER).

RedBeat (redbeat.RedBeatScheduler) ends beat at its first Redis error: at start it installs the
schedule in its constructor and takes its lock in a beat_init handler (whose error Celery only
logs, leaving no lock for the first tick to extend); mid-run a tick's lock extension or schedule
read raises. Beat embedded in a worker (`invoke celery --beat`) then dies alone while the worker
goes on, and nothing periodic (the sweep of pending messages among them) runs again. This one:

- takes the lock and installs the schedule in its tick, without blocking: a beat without the
  lock stands by and asks again at every tick, so it stays alive and its heartbeat fresh;
- on a Redis error logs one line and keeps ticking, every few seconds, until Redis answers;
- when its lock is gone (it expired while Redis was away, or Redis restarted without it) sends
  nothing until it holds the lock again, then installs the schedule again (a Redis restarted
  without persistence lost it too): two beats never send at once;
- touches a heartbeat file at every tick (CELERY_BEAT_HEARTBEAT_FILE), which the health check
  reads (`invoke celery.health --beat`): a beat that died or hangs goes stale.
"""

from __future__ import annotations

import os
from pathlib import Path

import redis.exceptions
from celery.signals import beat_init
from celery.utils.log import get_logger
from redbeat import schedulers as redbeat

logger = get_logger("celery.beat")

# Redis does not answer now: a refused, dropped or timed-out connection, a server still loading
# its data, a replica that refuses writes during a failover.
REDIS_AWAY = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
              redis.exceptions.ReadOnlyError)

# RedBeat's handler blocks until it holds the lock, before the first tick; this scheduler takes
# the lock in its tick instead.
beat_init.disconnect(redbeat.acquire_distributed_beat_lock)


class RedBeatScheduler(redbeat.RedBeatScheduler):
    def __init__(self, app, *args, **kwargs):
        self.schedule_installed = False
        self.standing_by = False
        self.failures = 0  # consecutive ticks that found Redis away
        self.heartbeat_failed = False
        super().__init__(app, *args, **kwargs)
        self.heartbeat_file = Path(app.conf.beat_heartbeat_file)
        if not kwargs.get("lazy"):
            logger.info("beat: process %s, heartbeat file %s", os.getpid(), self.heartbeat_file)

    def setup_schedule(self):
        """Nothing at construction, where a Redis error would end beat: the tick installs the
        schedule once it holds the lock (only the beat that sends writes the schedule)."""

    def tick(self, min=min, **kwargs):
        try:
            if not self.holds_lock():
                delay = self.max_interval
            else:
                if not self.schedule_installed:
                    super().setup_schedule()
                    self.schedule_installed = True
                delay = super().tick(min=min, **kwargs)
        except redis.exceptions.LockError:  # the extension found the lock gone or taken
            logger.warning("beat: lost the lock %s (it expired while Redis was away, or Redis "
                           "restarted without it); sending nothing until this beat holds it again",
                           self.lock_key)
            self.lock = None
            delay = 0
        except REDIS_AWAY as exc:
            delay = self.redis_away(exc)
        else:
            if self.failures:
                logger.info("beat: Redis answers again")
            self.failures = 0
        self.touch_heartbeat()
        return delay

    def holds_lock(self) -> bool:
        """Whether this beat may send: it holds the lock, or takes it now if free (never waiting)."""
        if not self.lock_key or self.lock is not None:
            return True
        client = redbeat.get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout)
        # As RedBeat does: each extension sets the lock's time to live, rather than adding to it.
        lock.lua_extend = client.register_script(redbeat.LUA_EXTEND_TO_SCRIPT)
        if not lock.acquire(blocking=False):
            if not self.standing_by:
                logger.info("beat: another beat holds the lock %s; standing by", self.lock_key)
                self.standing_by = True
            return False
        logger.info("beat: Acquired lock")
        self.lock, self.standing_by = lock, False
        self.schedule_installed = False  # a restarted Redis may have lost it with the lock
        return True

    def redis_away(self, exc: Exception) -> float:
        """One line when Redis stops answering; the delay before the next try (1, 2, 4 s, then
        the loop's interval)."""
        self.failures += 1
        if self.failures == 1:
            logger.warning("beat: Redis does not answer (%s: %s); sending nothing, trying again "
                           "every few seconds until it does", type(exc).__name__, exc)
        return float(min(self.max_interval, 2 ** (self.failures - 1)))

    def touch_heartbeat(self) -> None:
        try:
            self.heartbeat_file.touch()
        except OSError as exc:
            if not self.heartbeat_failed:
                logger.warning("beat: cannot write its heartbeat file (%s): its health check will "
                               "fail; set BEAT_HEARTBEAT_FILE to a writable path", exc)
                self.heartbeat_failed = True

    def close(self):
        lock, self.lock = self.lock, None
        if lock is not None and not self.failures:
            try:
                lock.release()
                logger.info("beat: Released the lock")
            except (redis.exceptions.LockError, *REDIS_AWAY):
                pass  # gone already, or Redis is away: it expires by itself
        self.heartbeat_file.unlink(missing_ok=True)
        super().close()
