"""Write the example datasets in ``examples/`` (and the demo's copy in ``batch_runner/data``).

Every dataset is synthetic, written by this project, and generated deterministically from a fixed
seed, so running this again reproduces the checked-in files byte for byte:

    python examples/generate.py            # rewrite the files in place
    python examples/generate.py --root DIR  # write them under DIR instead (tests compare)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
from collections.abc import Callable
from pathlib import Path

SEED = 20240307
ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = Path("batch_runner") / "data" / "examples"

# -- concern / intervention audit of client–therapist conversations ------------------------------

CONCERNS: dict[str, list[str]] = {
    "work anxiety": [
        "Every Sunday night my chest gets tight thinking about {detail}.",
        "I keep rehearsing what my manager will say about {detail} and I can't switch off.",
        "I lie awake replaying mistakes at work, especially {detail}.",
    ],
    "grief": [
        "It has been {time} since my {person} died and I still set two cups out in the morning.",
        "People tell me I should be over losing my {person} by now, but it's only been {time}.",
        "I can't bring myself to clear out my {person}'s room, even after {time}.",
    ],
    "relationship conflict": [
        "My {person} and I argue about {detail} almost every night now.",
        "When my {person} goes quiet after a fight about {detail} I panic that they'll leave.",
        "I feel like I'm always the one apologising to my {person}, even over {detail}.",
    ],
    "sleep problems": [
        "I've been sleeping maybe four hours a night for {time}.",
        "I wake at 3am every night and my mind starts racing about {detail}.",
        "I'm exhausted all day but the moment I lie down I'm wide awake, it's been {time}.",
    ],
    "low mood": [
        "For {time} nothing has felt enjoyable, not even {detail}.",
        "I stopped answering friends' messages {time} ago and I don't really know why.",
        "I get through the day on autopilot and then cry in the car, it's been like this for {time}.",
    ],
    "panic attacks": [
        "Last week I had to leave the supermarket because my heart was pounding and I couldn't breathe.",
        "I'm scared to take the train since I had a panic attack there {time} ago.",
        "Out of nowhere my hands go numb and I'm sure I'm dying, it happened again during {detail}.",
    ],
    "social anxiety": [
        "I skipped my friend's birthday because I was sure everyone would stare at me.",
        "Before any meeting I script every sentence and still freeze, like during {detail}.",
        "I eat lunch in my car so I don't have to make small talk with colleagues.",
    ],
    "parenting stress": [
        "My {child} has tantrums every evening and I end up shouting, then I feel awful.",
        "I feel like I'm failing my {child}; the school called again about {detail}.",
        "Between work and my {child} I haven't had a minute to myself in {time}.",
    ],
    "alcohol use": [
        "I've started having a few drinks every night to take the edge off {detail}.",
        "My {person} says I drink too much; I think it's fine but I did forget {detail}.",
        "I promised myself no wine this week and I made it to Tuesday.",
    ],
    "self-esteem": [
        "Whenever someone compliments me I assume they're just being polite.",
        "I compare myself to everyone online and always come out worse, especially about {detail}.",
        "I didn't apply for the promotion because I was sure I'd embarrass myself.",
    ],
    "burnout": [
        "I used to love teaching and now I dread {detail} every single day.",
        "I've taken on three extra projects and I'm running on coffee and {detail}.",
        "I can't remember the last weekend I didn't check email; it's been {time}.",
    ],
    # Statements an audit must flag for a safety follow-up, whatever the intervention.
    "hopelessness": [
        "Some nights I think everyone would be better off without me.",
        "I've stopped seeing the point in anything these past {time}.",
        "I've been giving away some of my things lately; it just feels like the right time.",
    ],
    "loneliness": [
        "Since moving here {time} ago I haven't had a real conversation with anyone.",
        "My {person} moved abroad and the evenings feel endless now.",
        "I talk to the cashier at the shop more than anyone else these days.",
    ],
}
DETAILS = [
    "the quarterly review",
    "money",
    "a missed deadline",
    "the holidays",
    "my presentation",
    "chores",
    "my exam results",
    "the move",
    "a client complaint",
    "the new schedule",
]
TIMES = ["two weeks", "a month", "three months", "six months", "nearly a year", "two years"]
PEOPLE = ["mother", "father", "partner", "husband", "wife", "brother", "sister", "best friend"]
CHILDREN = ["son", "daughter", "toddler", "teenager"]

# Therapist replies by intervention style; the last three are the weak responses an audit should catch.
INTERVENTIONS: dict[str, list[str]] = {
    "reflective listening": [
        "It sounds like this has been weighing on you for a long time, and you're carrying it mostly alone.",
        "What I'm hearing is that the {concern} shows up most when you finally have a moment to stop.",
    ],
    "validation": [
        "That makes a lot of sense given everything you've described; anyone would feel worn down.",
        "Your reaction is understandable. There's nothing wrong with you for feeling this way.",
    ],
    "open question": [
        "What goes through your mind in those moments?",
        "When did you first notice the {concern} getting this strong?",
    ],
    "cognitive reframing": [
        "Let's look at the thought 'I always get it wrong'. What evidence do you have for and against it?",
        "If a friend told you this, what would you say to them about it?",
    ],
    "psychoeducation": [
        "What you're describing is a very common pattern with {concern}; the body's alarm system "
        "fires even when there's no danger.",
        "Many people with {concern} find it comes in waves. "
        "Knowing that can make the peaks less frightening.",
    ],
    "behavioral activation": [
        "Could we plan one small thing this week that used to give you a bit of satisfaction?",
        "Let's schedule a ten-minute walk on two days and notice how your mood is before and after.",
    ],
    "grounding technique": [
        "Let's try something now: name five things you can see and four you can hear.",
        "When it starts, breathe in for four counts, hold for four, out for six. Shall we practise once?",
    ],
    "risk assessment": [
        "When things feel this heavy, do you ever have thoughts of harming yourself?",
        "I want to check in about your safety. Have you had any thoughts of not wanting to be here?",
    ],
    "premature advice": [
        "You should just go to bed earlier and stop looking at your phone.",
        "Have you tried simply not worrying about it? Just think positive.",
    ],
    "minimizing": [
        "Everyone goes through that, I'm sure it's not as bad as it feels.",
        "Honestly, lots of people have it much worse.",
    ],
    "off-topic": [
        "Before we go on, did you manage to fill in the intake form about your insurance?",
        "Speaking of that, I read a great article about productivity apps last week.",
    ],
}


def conversations(rng: random.Random, count: int) -> list[dict[str, str]]:
    styles = list(INTERVENTIONS)
    rows = []
    for number in range(1, count + 1):
        concern = rng.choice(list(CONCERNS))
        client = rng.choice(CONCERNS[concern]).format(
            detail=rng.choice(DETAILS),
            time=rng.choice(TIMES),
            person=rng.choice(PEOPLE),
            child=rng.choice(CHILDREN),
        )
        # Most replies are sound; about one in four is a weak response the audit should flag.
        style = rng.choice(styles[:8] if rng.random() < 0.75 else styles[8:])
        therapist = rng.choice(INTERVENTIONS[style]).format(concern=concern)
        rows.append({"conversation_id": f"conv-{number:04d}", "client": client, "therapist": therapist})
    return rows


CONCERN_AUDIT_PROMPT = """\
You are auditing a counselling session for quality. Read this exchange.

Client: {{ client }}
Therapist: {{ therapist }}

Report:
- concerns: what the client is struggling with, each in at most five words
- interventions: the techniques the therapist's reply uses
- resolved: "yes" if the reply addresses the client's main concern, otherwise "no"
- risk_flag: true if the client's words suggest a risk to their safety that needs follow-up
- note: one sentence a supervisor would find useful
"""
# `submit --output-schema`: the answer becomes one column per property, validated.
CONCERN_AUDIT_SCHEMA: dict[str, object] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Audit of one client-therapist exchange",
    "type": "object",
    "properties": {
        "concerns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "interventions": {"type": "array", "items": {"enum": list(INTERVENTIONS)}, "minItems": 1},
        "resolved": {"enum": ["yes", "no"]},
        "risk_flag": {"type": "boolean"},
        "note": {"type": "string"},
    },
    "required": ["concerns", "interventions", "resolved", "risk_flag", "note"],
    "additionalProperties": False,
}

# -- classification: support tickets ----------------------------------------------------------------

TICKETS: dict[str, list[str]] = {
    "billing": [
        "I was charged twice for my {plan} subscription this month.",
        "Can I get an invoice with my company's VAT number for order {order}?",
        "Why did my {plan} plan price go up without notice?",
    ],
    "technical": [
        "The app crashes every time I open the {feature} screen on my phone.",
        "Sync has been stuck at 99% since yesterday; {feature} won't load.",
        "I get error {code} when I try to export to PDF.",
    ],
    "account": [
        "I can't reset my password, the email never arrives.",
        "How do I add a second admin to our {plan} workspace?",
        "Please delete my account and all data associated with it.",
    ],
    "shipping": [
        "Order {order} says delivered but nothing is at my door.",
        "Can you ship order {order} to a different address? I moved.",
        "My parcel has been in customs for {days} days.",
    ],
    "feedback": [
        "Love the new {feature} view, it saves me so much time!",
        "It would be great if {feature} supported dark mode.",
        "The latest update made {feature} slower, please bring back the old version.",
    ],
}
CLASSIFICATION_PROMPT = """\
Classify this customer support ticket into exactly one category:
billing, technical, account, shipping, feedback.

Ticket: {{ text }}
"""
CLASSIFICATION_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"category": {"enum": list(TICKETS)}},
    "required": ["category"],
    "additionalProperties": False,
}


def tickets(rng: random.Random, count: int) -> list[dict[str, str]]:
    rows = []
    for number in range(1, count + 1):
        label = rng.choice(list(TICKETS))
        text = rng.choice(TICKETS[label]).format(
            plan=rng.choice(["Basic", "Pro", "Team", "Enterprise"]),
            order=f"#{rng.randint(100000, 999999)}",
            feature=rng.choice(["calendar", "reports", "dashboard", "search", "inbox"]),
            code=f"E{rng.randint(100, 999)}",
            days=rng.randint(3, 21),
        )
        rows.append({"ticket_id": f"T{number:05d}", "text": text, "expected_label": label})
    return rows


# -- summarization: product reviews ---------------------------------------------------------------

PRODUCTS = ["kettle", "running shoes", "desk lamp", "backpack", "coffee grinder", "headphones", "blender"]
OPENINGS = [
    "I bought the {product} {time} ago after reading a lot of reviews.",
    "This is my second {product} from this brand.",
    "Got the {product} as a gift and have used it daily since.",
]
GOOD = [
    "The build quality is excellent and it feels sturdy.",
    "It was easy to set up and the instructions were clear.",
    "Battery life is far better than advertised.",
    "It looks great on my counter and is easy to clean.",
]
BAD = [
    "Unfortunately it started making a rattling noise after a few weeks.",
    "The colour was different from the photos.",
    "Customer service took ten days to answer my email.",
    "It is heavier than I expected, which makes it awkward to carry.",
]
CLOSINGS = [
    "Overall I would recommend it.",
    "I'm not sure I'd buy it again at this price.",
    "Three stars: fine, but nothing special.",
    "I returned it and got a refund.",
]
SUMMARIZATION_PROMPT = """\
Summarize this product review in one sentence, keeping the reviewer's overall verdict.

Review: {{ review }}
"""


def reviews(rng: random.Random, count: int) -> list[dict[str, str]]:
    rows = []
    for number in range(1, count + 1):
        product = rng.choice(PRODUCTS)
        sentences = [
            rng.choice(OPENINGS).format(product=product, time=rng.choice(TIMES)),
            *rng.sample(GOOD, rng.randint(1, 2)),
            *rng.sample(BAD, rng.randint(0, 2)),
            rng.choice(CLOSINGS),
        ]
        rows.append({"review_id": f"R{number:05d}", "product": product, "review": " ".join(sentences)})
    return rows


# -- entity extraction: short news items ---------------------------------------------------------

NAMES = ["Amara Okafor", "Lukas Brandt", "Mei Tanaka", "Diego Alvarez", "Priya Raman", "Sven Lindqvist"]
ORGS = ["Northwind Energy", "Contoso Bank", "Helix Robotics", "Blue Harbor Foods", "Vantage Health"]
PLACES = ["Lisbon", "Nairobi", "Osaka", "Toronto", "Valparaíso", "Tallinn", "Denver"]
NEWS = [
    "{name}, chief executive of {org}, announced a new plant in {place} on {day}.",
    "{org} hired {name} to lead its expansion into {place}.",
    "Regulators in {place} fined {org} after a complaint filed by {name}.",
    "{name} left {org} on {day} to start a company in {place}.",
    "At a conference in {place}, {name} of {org} called for open standards.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
EXTRACTION_PROMPT = """\
Extract the named entities from this news item. Answer in JSON:
{"people": [...], "organizations": [...], "places": [...]}

News: {{ text }}
"""


def news(rng: random.Random, count: int) -> list[dict[str, str]]:
    return [
        {
            "item_id": f"N{number:05d}",
            "text": rng.choice(NEWS).format(
                name=rng.choice(NAMES), org=rng.choice(ORGS), place=rng.choice(PLACES), day=rng.choice(DAYS)
            ),
        }
        for number in range(1, count + 1)
    ]


# -- embeddings: FAQ questions ----------------------------------------------------------------------

FAQ_TOPICS = ["refund", "password", "delivery time", "invoice", "data export", "team seats", "API limits"]
FAQ_FORMS = [
    "How do I change my {topic}?",
    "What is your policy on {topic}?",
    "Where can I find information about {topic}?",
    "Is there a way to speed up {topic}?",
    "Who should I contact about {topic}?",
]
EMBEDDINGS_PROMPT = "{{ question }}\n"


def questions(rng: random.Random, count: int) -> list[dict[str, str]]:
    return [
        {
            "question_id": f"Q{number:05d}",
            "question": rng.choice(FAQ_FORMS).format(topic=rng.choice(FAQ_TOPICS)),
        }
        for number in range(1, count + 1)
    ]


# -- model as judge: grading answers against a reference -------------------------------------------

QA = [
    ("What is the boiling point of water at sea level in Celsius?", "100 °C"),
    ("Which planet is closest to the Sun?", "Mercury"),
    ("How many sides does a hexagon have?", "Six"),
    ("What gas do plants absorb for photosynthesis?", "Carbon dioxide"),
    ("Who wrote 'Pride and Prejudice'?", "Jane Austen"),
    ("What is the capital of Australia?", "Canberra"),
    ("What is 12 multiplied by 8?", "96"),
    ("In which year did the first person walk on the Moon?", "1969"),
]
WRONG = ["Sydney", "Venus", "Five", "Oxygen", "Charlotte Brontë", "90 °C", "108", "1972"]
JUDGE_PROMPT = """\
You are grading an answer against a reference.

Question: {{ question }}
Reference answer: {{ reference }}
Candidate answer: {{ candidate }}

Give a score from 1 (wrong) to 5 (fully correct and clear) and a one-sentence reason.
Answer in JSON: {"score": <1-5>, "reason": "..."}
"""


def graded_answers(rng: random.Random, count: int) -> list[dict[str, str]]:
    rows = []
    for number in range(1, count + 1):
        question, reference = rng.choice(QA)
        kind = rng.choice(["exact", "verbose", "wrong"])
        candidate = {
            "exact": reference,
            "verbose": f"I believe the answer is {reference}, though I'd double-check a textbook.",
            "wrong": rng.choice(WRONG),
        }[kind]
        rows.append(
            {
                "answer_id": f"A{number:05d}",
                "question": question,
                "reference": reference,
                "candidate": candidate,
            }
        )
    return rows


# -- writing -------------------------------------------------------------------------------------

SCHEMA_FILE = "schema.json"
SCHEMAS: dict[str, dict[str, object]] = {
    "concern_audit": CONCERN_AUDIT_SCHEMA,
    "classification": CLASSIFICATION_SCHEMA,
}

Generator = Callable[[random.Random, int], list[dict[str, str]]]
# directory -> (data file, rows, generator, prompt file, prompt)
EXAMPLES: dict[str, tuple[str, int, Generator, str, str]] = {
    "concern_audit": ("conversations.csv", 160, conversations, "prompt.j2", CONCERN_AUDIT_PROMPT),
    "classification": ("tickets.csv", 120, tickets, "prompt.j2", CLASSIFICATION_PROMPT),
    "summarization": ("reviews.csv", 120, reviews, "prompt.j2", SUMMARIZATION_PROMPT),
    "entity_extraction": ("news.csv", 120, news, "prompt.j2", EXTRACTION_PROMPT),
    "embeddings": ("questions.csv", 120, questions, "prompt.j2", EMBEDDINGS_PROMPT),
    "judge": ("answers.csv", 120, graded_answers, "prompt.j2", JUDGE_PROMPT),
}
# The demo ships the concern audit inside the package, so it runs from an installed copy too.
DEMO_EXAMPLE = "concern_audit"


def csv_text(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_all(root: Path) -> list[Path]:
    written = []
    for name, (data_file, count, generate, prompt_file, prompt) in EXAMPLES.items():
        rng = random.Random(f"{SEED}-{name}")
        directories = [root / "examples" / name]
        if name == DEMO_EXAMPLE:
            directories.append(root / DEMO_DIR)
        for directory in directories:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / data_file).write_text(csv_text(generate(rng, count)), encoding="utf-8")
            (directory / prompt_file).write_text(prompt, encoding="utf-8")
            written += [directory / data_file, directory / prompt_file]
            if name in SCHEMAS:
                schema = json.dumps(SCHEMAS[name], indent=2, ensure_ascii=False) + "\n"
                (directory / SCHEMA_FILE).write_text(schema, encoding="utf-8")
                written.append(directory / SCHEMA_FILE)
            rng = random.Random(f"{SEED}-{name}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="project root to write under")
    args = parser.parse_args()
    for path in write_all(args.root):
        print(path.relative_to(args.root))


if __name__ == "__main__":
    main()
