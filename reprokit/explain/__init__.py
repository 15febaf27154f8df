"""Why each difference exists and what to change: causes, fixes, evidence, steps.

>>> from reprokit.explain import CAUSES, Settings, explain_result
>>> sorted(CAUSES)[:3]
['dependency-drift', 'embedded-timestamp', 'identity']
"""

from .causes import CAUSES, Cause
from .explainer import explain_result, layer_pairing
from .rules import CONFIG_RULES, FILE_RULES, Rule, rule_from_dict
from .settings import Settings, find_settings, read_settings

__all__ = [
    "CAUSES",
    "CONFIG_RULES",
    "FILE_RULES",
    "Cause",
    "Rule",
    "Settings",
    "explain_result",
    "find_settings",
    "layer_pairing",
    "read_settings",
    "rule_from_dict",
]
