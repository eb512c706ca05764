"""The public CRM export (shared/data/crm-opportunities/) converted to input sfa reads
(no tests here): accounts become customers, the pipeline becomes opportunities with ISO
dates and the shipped configuration's stages. A stand-in for the `imports:` of the
export issue, used by the report's browser tests and docs/report.png.

    python tests/crm_export.py OUT_DIR     # writes OUT_DIR/customers.csv, opportunities.csv
"""

from __future__ import annotations

import csv
import os
import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The data sit in shared/ beside the work tree (a developer's and CI's alike).
CRM = Path(os.environ.get("SFA_CRM_DATA", REPO.parent / "shared" / "data" / "crm-opportunities"))

STAGES = {  # deal_stage -> an opportunity status of the shipped configuration
    "Prospecting": "Identified Opportunity",
    "Engaging": "In Discussion",
    "Won": "Closed Won",
    "Lost": "Closed Lost",
}
COUNTRIES = {"United States": "US"}  # the shipped territories route ISO codes


def available() -> bool:
    """Are the export's files there?"""
    return (CRM / "accounts.csv").is_file() and (CRM / "sales_pipeline.csv").is_file()


def _iso(text: str) -> str:
    """``dd-mm-yy`` -> ``YYYY-MM-DD`` (blank stays blank)."""
    text = text.strip()
    return datetime.strptime(text, "%d-%m-%y").date().isoformat() if text else ""


def convert(out: Path) -> list[Path]:
    """Write customers.csv and opportunities.csv into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    customers, opportunities = out / "customers.csv", out / "opportunities.csv"
    with open(CRM / "accounts.csv", newline="", encoding="utf-8") as src, \
            open(customers, "w", newline="", encoding="utf-8") as dst:
        writer = csv.writer(dst)
        writer.writerow(["id", "industry", "employees", "country", "revenue", "subsidiary_of"])
        for row in csv.DictReader(src):
            country = row["office_location"].strip()
            writer.writerow([row["account"], row["sector"], row["employees"],
                             COUNTRIES.get(country, country), row["revenue"], row["subsidiary_of"]])
    with open(CRM / "sales_pipeline.csv", newline="", encoding="utf-8") as src, \
            open(opportunities, "w", newline="", encoding="utf-8") as dst:
        writer = csv.writer(dst)
        writer.writerow(["id", "customer", "owner", "product", "status", "created",
                         "expected_close", "amount"])
        for row in csv.DictReader(src):
            writer.writerow([row["opportunity_id"], row["account"], row["sales_agent"],
                             row["product"], STAGES[row["deal_stage"]], _iso(row["engage_date"]),
                             _iso(row["close_date"]), row["close_value"]])
    return [customers, opportunities]


if __name__ == "__main__":
    for path in convert(Path(sys.argv[1])):
        print(path)
