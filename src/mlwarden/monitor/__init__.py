"""ML08 drift: reference profiles of training inputs and online tests against them (numpy).

:mod:`mlwarden.monitor.profile` builds the profile once from training data;
:mod:`mlwarden.monitor.online` tests a sliding window of live inputs against it (the
gateway's drift monitor). Offline two-dataset tests (``mlwarden drift``) build on both.
"""

from __future__ import annotations
