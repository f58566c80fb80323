"""The canonical column names: what a column called ``spend_tv`` or ``revenue`` means.

Users may name their columns otherwise and say which is which (:mod:`engine.causal.roles`);
what is stored always uses these names, so a stored dataset re-reads without any roles.
"""

from __future__ import annotations

import re

SPEND_PREFIX = "spend_"
ATTRIBUTED_PREFIX = "attributed_"
KPI_COLUMNS = ("revenue", "conversions")
RESERVED_COLUMNS = ("date", "geo", *KPI_COLUMNS)
CHANNEL_NAME = re.compile(r"[a-z0-9_]{1,40}")
