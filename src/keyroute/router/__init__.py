"""The difficulty scorer behind ``model: "auto"``: request features into a small shipped model.

``Scorer.load()`` reads the model shipped in this package; ``scorer.score(request)`` is in
(0, 1), higher = harder; ``threshold_for_quality`` and ``threshold_for_strong_share`` turn a
routing policy's knob into a threshold (strong model iff ``score >= threshold``). ``metrics``
has RouteLLM's APGR and CPT. Pure CPU, no network; ``make router-train`` rebuilds the model.
"""

from keyroute.router.model import Calibration, Scorer

__all__ = ["Calibration", "Scorer"]
