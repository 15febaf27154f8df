"""The testinfra backend: a testinfra ``Host`` whose commands run in a reprokit container.

>>> host = testinfra_host(container)  # doctest: +SKIP
>>> host.file("/etc/passwd").exists  # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..containers import Container
from .session import Sessions

if TYPE_CHECKING:
    import testinfra.host


def testinfra_host(container: Container) -> testinfra.host.Host:
    """A testinfra Host whose commands run in ``container`` through the Docker SDK (the same
    engine as reprokit's), raising :class:`ContainerError` on infrastructure failures.

    Commands go through the container's shell sessions (:class:`~.session.Sessions`, made here
    unless the caller set ``container.sessions``), or an exec each where a session cannot run
    them."""
    import testinfra.host
    from testinfra.backend.docker import DockerBackend

    class ReprokitBackend(DockerBackend):
        NAME = "docker"

        def __init__(self, c: Container):
            super().__init__(c.id)
            self.container = c
            if c.sessions is None:
                c.sessions = Sessions(c)
            self.sessions: Sessions = c.sessions

        def run(self, command: str, *args: str, **kwargs: Any) -> Any:
            cmd = self.get_command(command, *args)
            done = self.sessions.run(cmd, user=self.user)
            return self.result(done.rc, self.encode(cmd), done.stdout, done.stderr)

        def get_pytest_id(self) -> str:
            return self.container.side

    backend = ReprokitBackend(container)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host
