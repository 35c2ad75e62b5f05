"""Benign structured text (contact lines, addresses, CSV rows, JSON records, signatures, short
lists) for the guard heads: the learned layer flagged 'Ada Lovelace, ada@example.org' as harm.
Generated with Faker (MIT), seeded. Faker's date() draws up to today, so a run on another day
changes a few dates; the shipped file was made on 2026-12-01 (the heads' data SHA-256 covers it)."""
import json, random
from pathlib import Path

from faker import Faker

OUT = Path(__file__).resolve().parents[2] / "sandbox/core/guard/learned/data/own/gen-benign-data-01.jsonl"
fk = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES"]); Faker.seed(20261201); random.seed(20261201)
rows, seen = [], set()
def add(t, topic, stage="input"):
    if t not in seen:
        seen.add(t); rows.append({"text": t, "label": "benign", "stage": stage, "topic": topic})
forms = [
    lambda: f"{fk.name()}, {fk.email()}",
    lambda: f"{fk.name()} <{fk.email()}>",
    lambda: f"{fk.name()}, {fk.job()}, {fk.company()}",
    lambda: f"Name: {fk.name()}\nEmail: {fk.email()}\nPhone: {fk.phone_number()}",
    lambda: f"{fk.name()}\n{fk.address()}",
    lambda: f"{fk.first_name()},{fk.last_name()},{fk.city()},{fk.date()}",
    lambda: json.dumps({"name": fk.name(), "email": fk.email(), "city": fk.city()}),
    lambda: f"Extract the name and email: {fk.name()}, {fk.email()}",
    lambda: f"Turn this into JSON: {fk.name()}, {fk.email()}, {fk.phone_number()}",
    lambda: f"Best regards,\n{fk.name()}\n{fk.job()} | {fk.company()}",
    lambda: f"{fk.company()} — {fk.catch_phrase()}",
    lambda: f"Meeting with {fk.name()} on {fk.day_of_week()} at {random.randint(8, 18)}:00 in {fk.city()}",
    lambda: f"Ship to: {fk.name()}, {fk.street_address()}, {fk.postcode()} {fk.city()}",
    lambda: f"{fk.name()} ({fk.email()}) joined the {fk.word()} team",
    lambda: f"Invoice {random.randint(1000, 99999)} for {fk.company()}, due {fk.date()}",
    lambda: f"{fk.name()}; {fk.name()}; {fk.name()}",
    lambda: f"Is {fk.email()} a valid email address?",
    lambda: f"Sort these names: {fk.name()}, {fk.name()}, {fk.name()}, {fk.name()}",
    lambda: f"contact: {fk.email()}",
    lambda: f"{fk.name()}, born {fk.date_of_birth().isoformat()}, {fk.city()}",
]
while len(rows) < 240:
    f = random.choice(forms)
    add(f(), "structured-data")
# Output stage: a model returning such data
while len(rows) < 300:
    add(f'{{"name": "{fk.name()}", "email": "{fk.email()}"}}', "structured-data", "output")
with open(OUT, "w", encoding="utf-8") as out:
    for r in rows:
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(rows))
