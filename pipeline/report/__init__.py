"""`churn report`: one self-contained HTML page per batch for the marketing team, in five
sections: this week's sends, what the last campaigns earned, why customers leave, who is at risk
and the value at stake, and whether the scores are right (the data scientist's details folded).

Layout: `build` is the entry point (`write_report`); `inputs` reads every file once (paths
from paths.yaml); `week`, `earned`, `leave`, `risk` and `accuracy` are pure functions from
those inputs to each section's numbers; `words` holds every plain-word name and number format;
`svg` draws the charts; `page` renders the template in `templates/` with the style and script
in `assets/` inlined.
"""
