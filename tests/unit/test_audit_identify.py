"""Finding Faktory servers in compose services: Dockerfiles and lookalike names (pure)."""

from __future__ import annotations

from faktctl.audit.sources.compose.identify import Dockerfile, identify, parse_dockerfile


def test_final_stage_base_follows_stage_names_and_flags() -> None:
    text = (
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
        "RUN go build ./...\n"
        "FROM contribsys/faktory:1.9.4 AS server\n"
        "COPY --from=build /out /usr/local/bin/\n"
        "FROM server\n"
        'CMD ["/faktory", "-e", "production", \\\n  "-b", ":7419"]\n'
    )
    parsed = parse_dockerfile(text)
    assert parsed.base == "contribsys/faktory:1.9.4"
    assert parsed.argv == ("/faktory", "-e", "production", "-b", ":7419")


def test_entrypoint_resets_cmd_and_shell_form() -> None:
    parsed = parse_dockerfile(
        "FROM alpine:3\nCMD x\nENTRYPOINT exec /usr/bin/faktory -e production\n"
    )
    assert parsed.argv == ("/bin/sh", "-c", "exec /usr/bin/faktory -e production")
    who = identify("jobs", None, None, parsed, has_command=False)
    assert who.role == "server" and who.found_by == "its Dockerfile runs the faktory binary"


def test_build_argument_in_from_is_unknown() -> None:
    parsed = parse_dockerfile("ARG BASE\nFROM $BASE\n")
    assert parsed.base is None and "build argument" in (parsed.problem or "")


def test_roles() -> None:
    assert identify("x", "contribsys/faktory:1.9.4", None, None, False).role == "server"
    assert identify("x", "someone/faktory-tls", None, None, False).role == "candidate"
    assert identify("x", "postgres:16", None, None, False).role == "other"
    absent = Dockerfile(None, problem="its Dockerfile server/Dockerfile cannot be read")
    assert identify("faktory", None, None, absent, False).role == "candidate"
    assert identify("web", None, None, absent, False).role == "other"
    built = Dockerfile("contribsys/faktory:1.10.0")
    who = identify("q", "me/q:1", ("/faktory", "-e", "production"), built, True)
    assert (who.role, who.image, who.argv) == ("server", "contribsys/faktory:1.10.0", None)
