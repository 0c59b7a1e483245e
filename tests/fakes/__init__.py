"""Real stand-ins for outside services, served on loopback for tests and benchmarks."""

from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply

__all__ = ["FakeUpstream", "RecordedRequest", "Reply"]
