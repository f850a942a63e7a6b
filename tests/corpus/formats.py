"""stub."""

from tests.corpus._spec import Spec


def specs() -> list[Spec]:
    return []
