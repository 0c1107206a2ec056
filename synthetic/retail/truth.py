"""The truth file: each customer's segment and, for those who lapse, the planted cause.
Only evaluation reads it; no pipeline stage does."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.retail.calendar import Calendar


def truth(cal: Calendar, segment: np.ndarray, cust: np.ndarray, day: np.ndarray,
          customer_ids: np.ndarray) -> pd.DataFrame:
    """customer_id, segment (loyal | churner), cause, last_order_ts; buyers only."""
    n = len(segment)
    last_day = pd.Series(day).groupby(cust).max().reindex(range(n)).to_numpy()
    loyal = segment == "loyal"
    bought = ~np.isnan(last_day)
    return pd.DataFrame({
        "customer_id": customer_ids,
        "segment": np.where(loyal, "loyal", "churner"),
        "cause": np.where(loyal, None, segment).astype(object),
        "last_order_ts": pd.Series(cal.days[np.nan_to_num(last_day).astype(int)]).where(bought),
    })[bought].reset_index(drop=True)
