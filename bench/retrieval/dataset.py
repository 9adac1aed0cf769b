#!/usr/bin/env python3
"""Generates a conversational retrieval dataset with labelled evidence.

Several people (distinct user ids) talk with one character over dated
sessions spread across about two years. Most of what they say is chit-chat;
some turns carry specific facts hinging on names, dates, numbers and rare
words; others are near-distractors: the same kind of fact about another
name or detail (which dense embeddings blur), or the same name doing
something else (which a bare keyword match confuses). Each question is
labelled with the ids of the turn(s) that answer it and a style:

- anchored: shares a rare word with its evidence (a name, a title) but is
  otherwise reworded ("What did Bartholomew chew through?");
- paraphrase: says the same thing in other words and shares no rare word
  with the evidence ("Where did Maya spot a shy marsh heron?" for "there
  was a bittern at Minsmere"); dense search should help here;
- exact: a reverse look-up by a number said verbatim ("What did I buy for
  £4,800?"); embeddings blur numbers, a keyword index does not;
- multi: needs two turns (a plan and its later change, a loan and the
  verdict on it); both are labelled.

Deterministic for a given --seed. Usage:
    dataset.py --out data.json [--turns 3000] [--questions 200] [--people 6] [--seed 7]
"""
import argparse
import datetime as dt
import json
import random
import re
import sys
from dataclasses import dataclass, field

CHARACTER = {"name": "Ada", "persona": "A retired sea captain who listens well, remembers what people tell her, and loves storms."}

PEOPLE = [
    ("Maya", "she"), ("Jonas", "he"), ("Priya", "she"), ("Tomás", "he"), ("Aiko", "she"),
    ("Darius", "he"), ("Leonie", "she"), ("Kwame", "he"), ("Ingrid", "she"), ("Rafael", "he"),
    ("Sunniva", "she"), ("Emeka", "he"),
]
PRONOUNS = {"she": {"they": "she", "them": "her", "their": "her"},
            "he": {"they": "he", "them": "him", "their": "his"}}

GIVEN = ["Lena", "Marco", "Hannah", "Felix", "Zainab", "Oskar", "Noor", "Teodor", "Imogen", "Callum",
         "Yusuf", "Freya", "Anselm", "Beatriz", "Niamh", "Ottilie", "Ravi", "Odile", "Casimir", "Mirela",
         "Thiago", "Bram", "Esther", "Kenji", "Dagny", "Florin", "Iolanthe", "Matteo", "Sefa", "Wilhelmina",
         "Lorcan", "Anouk", "Idris", "Greta", "Cosmin", "Philippa", "Tariq", "Solveig", "Ezra", "Marisol"]
SURNAMES = ["Okonkwo", "Achterberg", "Szymanska", "Lindqvist", "Ferreira", "Nakashima", "Abernathy",
            "Kowalczyk", "Delacroix", "Haverkamp", "Oyelaran", "Petrakis", "Quispe", "Rasmussen", "Villanueva",
            "Whitcombe", "Zielinski", "Balogun", "Castellanos", "Eriksen", "Grimaldi", "Hakobyan", "Jablonski",
            "Kapoor", "Montgomery", "Nwachukwu", "Ostrowski", "Pellegrino", "Rautio", "Sørensen", "Tremblay",
            "Uchenna", "Vasquez", "Wojcik", "Yilmaz", "Zamora", "Bellweather", "Crisp", "Dunmore", "Fairweather"]
RELATIONS = ["sister", "brother", "cousin", "aunt", "uncle", "partner", "best friend", "flatmate", "colleague", "neighbour"]
PETS = [("ferret", "Bartholomew"), ("cat", "Pudding"), ("dog", "Biscuit"), ("parrot", "Mr. Fennel"),
        ("tortoise", "Gordon"), ("rabbit", "Clementine"), ("hamster", "Ziggy"), ("gecko", "Noodle"),
        ("dog", "Pretzel"), ("cat", "Mochi"), ("cockatiel", "Saffron"), ("corgi", "Waffles"),
        ("guinea pig", "Turnip"), ("cat", "Admiral Whiskers"), ("dog", "Humphrey"), ("ferret", "Pistachio")]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


@dataclass
class Fact:
    """One labelled fact: the turns that state it, how to ask for it, and look-alikes."""
    kind: str
    evidence: list                       # 1 or 2 texts; a second goes in a later session
    anchored: list                       # question wordings sharing a rare word with the evidence
    paraphrase: list                     # wordings sharing none
    answer: str
    distractors: list = field(default_factory=list)
    key: str = ""                        # uniqueness within a person (one chewing event per pet...)
    exact: list = field(default_factory=list)  # reverse look-ups by a number said verbatim
    exact_answer: str = ""


def ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def say_date(r, d):
    """A date as people write it, in one of several styles."""
    return r.choice([f"on the {ordinal(d.day)} of {MONTHS[d.month - 1]}", f"on {MONTHS[d.month - 1]} {d.day}",
                     f"on {d.strftime('%A')} the {ordinal(d.day)}", f"on {d.day} {MONTHS[d.month - 1]}"])


def answer_date(d):
    return d.isoformat()


def money(r, low, high, step):
    amount = r.randrange(low, high, step)
    return f"{r.choice(['€', '£', '$'])}{amount:,}"


class Person:
    """Who is talking, and the people and pet that recur in their chatter."""

    def __init__(self, r, index, name, pronoun):
        self.r = r
        self.name = name
        self.user_id = f"{name.lower().replace('á', 'a')}-{index + 1:02d}"
        self.p = PRONOUNS[pronoun]
        self.pet_species, self.pet = PETS[index % len(PETS)]
        # Circle of named people: names recur in chit-chat so a name alone rarely pins a turn.
        names = r.sample(GIVEN, 8)
        self.circle = dict(zip(["sister", "brother", "best friend", "partner", "boss", "flatmate", "cousin", "colleague"], names))
        self.others = [n for n in GIVEN if n not in names]   # names for strangers and friends-of-friends
        self.used = set()

    def stranger(self):
        return self.r.choice(self.others)

    def relative(self):
        relation = self.r.choice(["sister", "brother", "cousin", "best friend", "partner"])
        return relation, self.circle[relation]


# ---------------------------------------------------------------- fact kinds
# Each returns a Fact (or None when its unique key is taken for this person).
# `today` is the date of the session the (first) evidence turn goes in.

HOBBIES = [("pottery", "making ceramics on a wheel"), ("salsa", "Latin partner dancing"),
           ("glassblowing", "shaping molten glass"), ("Mandarin", "speaking Chinese"),
           ("welding", "joining metal with a torch"), ("bouldering", "climbing without ropes"),
           ("calligraphy", "fancy brush lettering"), ("woodturning", "carving wood on a lathe"),
           ("cello", "playing a big string instrument"), ("fencing", "sword fighting as a sport"),
           ("beekeeping", "looking after hives"), ("life drawing", "sketching nude models"),
           ("bookbinding", "sewing and gluing books by hand"), ("Portuguese", "Brazil's language")]


def k_class(person, r, today):
    hobby, gloss = r.choice(HOBBIES)
    if f"class:{hobby}" in person.used:
        return None
    teacher = f"{r.choice(['Mrs.', 'Mr.', 'Ms.', 'Señora', 'Herr'])} {r.choice(SURNAMES)}"
    day = today - dt.timedelta(days=r.randint(1, 6))
    when = say_date(r, day)
    evidence = r.choice([
        f"I finally started that {hobby} class with {teacher} {when}, my hands are still sore",
        f"Guess what, {when} I went to my first {hobby} lesson! {teacher} teaches it and is terrifyingly good",
        f"Started {hobby} with {teacher} {when}. I was the worst in the room and loved every minute",
    ])
    other_hobby, _ = r.choice([h for h in HOBBIES if h[0] != hobby])
    friend = person.stranger()
    return Fact("class", [evidence],
                anchored=[f"When did {person.name} have {person.p['their']} first lesson with {teacher}?",
                          f"Do you remember when I started classes with {teacher}?"],
                paraphrase=[f"When did {person.name} begin {gloss}?",
                            f"What date did I first go to learn {gloss}?"],
                answer=answer_date(day), key=f"class:{hobby}",
                distractors=[
                    f"My {r.choice(RELATIONS)} did a {hobby} course years ago and quit after two weeks",
                    f"{friend} keeps trying to get me to join a {other_hobby} class with {r.choice(['Mrs.', 'Mr.'])} {r.choice(SURNAMES)}",
                    f"The {hobby} studio near the station is closing down, the owner is retiring",
                    f"{person.stranger()} started {hobby} with {r.choice(['Mrs.', 'Mr.'])} {r.choice(SURNAMES)} last month and won't shut up about it",
                ])


PET_EVENTS = [
    ("chew", "chewed through the {obj}", "What did {pet} chew through?|Do you remember what {pet} chewed up?",
     "What did my {kind} gnaw to pieces?",
     ["router cable", "phone charger", "laptop power cord", "headphone cable", "Christmas lights", "lamp flex"]),
    ("swallow", "swallowed a {obj} and we spent the night at the emergency vet", "What did {pet} swallow?|What was it {pet} swallowed?",
     "What did {name}'s animal eat that meant a night at the animal hospital?",
     ["hair tie", "wine cork", "Lego brick", "sock", "rubber duck", "bottle cap"]),
    ("escape", "escaped and turned up two hours later in {obj}", "Where was {pet} found after getting out?|Where did {pet} turn up after the escape?",
     "Where did {name}'s runaway animal end up?",
     ["the neighbour's greenhouse", "the bakery downstairs", "a skip on the corner", "the school playground",
      "the laundromat", "the church garden"]),
    ("trick", "learned to open the {obj} all on its own, I'm doomed", "What has {pet} learned to open?|What did {pet} figure out how to open?",
     "What can {name}'s clever animal now get into without help?",
     ["fridge", "treat cupboard", "sliding door", "bin lid", "bathroom door", "kitchen drawer"]),
]


def k_pet(person, r, today):
    key, template, anchored, paraphrase, objects = r.choice(PET_EVENTS)
    if f"pet:{key}" in person.used:
        return None
    obj = r.choice(objects)
    pet, kind = person.pet, person.pet_species
    evidence = r.choice([
        f"My {kind} {pet} {template.format(obj=obj)}",
        f"You won't believe it, {pet} {template.format(obj=obj)}",
        f"So last night {pet} {template.format(obj=obj)}. Never a dull moment with a {kind}",
    ])
    other_kind, other_pet = r.choice([p for p in PETS if p[1] != pet])
    other_obj = r.choice([o for o in objects if o != obj])
    return Fact("pet", [evidence],
                anchored=[a.format(pet=pet) for a in anchored.split("|")],
                paraphrase=[paraphrase.format(name=person.name, kind="pet"),
                            paraphrase.format(name=person.name, kind="pet")],
                answer=obj, key=f"pet:{key}",
                distractors=[
                    f"My friend's {other_kind} {other_pet} {template.format(obj=other_obj)}",
                    f"{pet} has been sleeping in the laundry basket all week",
                    f"I read that {kind}s {r.choice(['get bored easily', 'need a lot of attention', 'live surprisingly long'])}",
                ])


AILMENTS = [("knee", "a torn meniscus", "painful leg joint"), ("wrist", "carpal tunnel", "aching hand"),
            ("ear", "a perforated eardrum", "hearing problem"), ("back", "a herniated disc", "spine trouble"),
            ("eye", "a scratched cornea", "blurry vision"), ("ankle", "a hairline fracture", "foot injury"),
            ("throat", "tonsillitis", "pain when swallowing"), ("shoulder", "a rotator cuff strain", "arm that wouldn't lift"),
            ("skin", "contact dermatitis from the new detergent", "itchy rash")]


def k_doctor(person, r, today):
    part, diagnosis, gloss = r.choice(AILMENTS)
    if f"doctor:{part}" in person.used:
        return None
    doctor = f"Dr. {r.choice(SURNAMES)}"
    evidence = r.choice([
        f"Saw {doctor} about my {part} this morning. Turns out it's {diagnosis}",
        f"{doctor} finally looked at my {part}: {diagnosis}. At least now I know",
        f"The {part} thing has a name now, {diagnosis}, according to {doctor}",
    ])
    other = r.choice([a for a in AILMENTS if a[0] != part])
    return Fact("doctor", [evidence],
                anchored=[f"What did {doctor} say was wrong?", f"What was {doctor}'s diagnosis?"],
                paraphrase=[f"What did the specialist conclude about {person.name}'s {gloss}?",
                            f"What did the medical visit find about my {gloss}?"],
                answer=diagnosis, key=f"doctor:{part}",
                distractors=[
                    f"My {r.choice(['dad', 'mum', 'uncle', 'flatmate'])} saw Dr. {r.choice(SURNAMES)} about {other[1]}",
                    f"My {part} has been bothering me again this week",
                    "I hate waiting rooms, I was at the clinic for two hours for a blood test",
                ])


TRIPS = [("Reykjavik", "my cousin's wedding", "a family celebration"), ("Tbilisi", "a soil science conference", "a work event"),
         ("Oaxaca", "a cooking course", "learning regional recipes"), ("Ljubljana", "a hiking week", "a walking holiday"),
         ("Hokkaido", "the snow festival", "a winter celebration"), ("Marrakesh", "my aunt's 60th", "a relative's birthday"),
         ("Tallinn", "a hackathon", "a coding competition"), ("Valparaíso", "a visit to an old school friend", "seeing a childhood pal"),
         ("Trieste", "a coffee roasting workshop", "learning about espresso beans"), ("Bergen", "a fjord cruise", "a boat trip"),
         ("Hanoi", "a street food tour", "eating their way around a city"), ("Zanzibar", "a diving course", "learning to scuba")]


def k_trip(person, r, today):
    city, reason, gloss = r.choice(TRIPS)
    if f"trip:{city}" in person.used:
        return None
    day = today + dt.timedelta(days=r.randint(10, 80))
    when = say_date(r, day)
    evidence = r.choice([
        f"Booked it! I fly to {city} {when} for {reason}",
        f"We're off to {city} {when}, it's for {reason}. Need to find someone to feed {person.pet}",
        f"Flights are sorted: {city}, leaving {when}. {reason[0].upper() + reason[1:]}, can't wait",
    ])
    other = r.choice([t for t in TRIPS if t[0] != city])
    return Fact("trip", [evidence],
                anchored=[f"When does {person.name} fly to {city}?", f"When was I leaving for {city} again?"],
                paraphrase=[f"When does {person.name}'s journey for {gloss} begin?",
                            f"On what date do I set off on the trip for {gloss}?"],
                answer=answer_date(day), key=f"trip:{city}",
                distractors=[
                    f"I'd love to see {city} someday, {person.stranger()} says it's magical",
                    f"My {r.choice(RELATIONS)} is going to {other[0]} for {other[1]} next month",
                    f"Travel is so expensive now, I looked at flights for {r.choice(['June', 'the summer', 'Easter'])} and laughed",
                ])


CARS = ["Škoda Octavia", "Mazda MX-5", "Volvo V70", "Fiat Panda", "Toyota Yaris", "Citroën Berlingo",
        "Subaru Outback", "Renault Clio", "Saab 9-3", "Mini Cooper"]
COLOURS = ["mustard yellow", "bottle green", "silver", "burgundy", "sky blue", "white", "matte black"]


def k_car(person, r, today):
    if "car" in person.used:
        return None
    car, colour, nickname = r.choice(CARS), r.choice(COLOURS), r.choice(["Doris", "Gerald", "the Beast", "Pickle", "Rosie", "Vlad"])
    price = money(r, 2500, 14000, 50)
    evidence = r.choice([
        f"Picked up the used {colour} {car} today, {price} after haggling. I'm calling her {nickname}",
        f"I bought a car! A {colour} {car}, second hand, {price}. Name: {nickname}",
    ])
    other_car = r.choice([c for c in CARS if c != car])
    return Fact("car", [evidence],
                anchored=[f"How much did {person.name} pay for the {car}?", f"What did {nickname} cost me?"],
                paraphrase=[f"What was the price of {person.name}'s pre-owned vehicle?",
                            "How much did I spend on my pre-owned motor?"],
                answer=price, key="car", exact_answer=f"{colour} {car}",
                exact=[f"What did I buy for {price}?", f"What did {person.name} pay {price} for?"],
                distractors=[
                    f"My {r.choice(['brother', 'cousin', 'colleague'])} is selling {r.choice(['his', 'her'])} {other_car}, asking way too much",
                    f"The {colour} {other_car} next door got towed this morning",
                    "I really need a car, the bus to work takes forever",
                ])


LOST = [("passport", "travel document"), ("grandmother's signet ring", "family heirloom jewellery"),
        ("Kindle", "e-reader"), ("Leica camera", "vintage film photography gear"), ("reading glasses", "spectacles"),
        ("house keys", "keys to the flat"), ("wireless earbuds", "little in-ear headphones"),
        ("season ticket", "pass for the matches"), ("fountain pen", "posh writing instrument")]
PLACES = ["the Kestrel & Crown pub", "the sauna at the lido", "Café Brindisa", "the 47 bus", "platform 9 at the central station",
          "the Saturday flea market", "the Lindenhof climbing gym", "the dentist's waiting room", "the Olive Tree taverna"]


def k_lost(person, r, today):
    item, gloss = r.choice(LOST)
    if f"lost:{item}" in person.used:
        return None
    place = r.choice(PLACES)
    evidence = r.choice([
        f"I think I left my {item} at {place}. Nobody has handed it in",
        f"Ugh, I've lost my {item}. Last seen: {place}",
    ])
    other_item = r.choice([i for i, _ in LOST if i != item])
    return Fact("lost", [evidence],
                anchored=[f"Where did {person.name} leave the {item}?", f"Where did I last have my {item}?"],
                paraphrase=[f"Where might {person.name}'s missing {gloss} be?",
                            f"Where did I probably lose my {gloss}?"],
                answer=place, key=f"lost:{item}",
                distractors=[
                    f"Found my {other_item} in the freezer of all places, I'm losing it",
                    f"{person.circle['flatmate']} lost {r.choice(['her', 'his'])} {item} at {r.choice([p for p in PLACES if p != place])} once",
                    f"We went to {place} after work, the chips were great",
                ])


GIFTS = [("a vintage Polaroid SX-70", "an old instant camera"), ("a cast-iron Dutch oven", "heavy cookware"),
         ("a signed first edition of Piranesi", "a rare autographed novel"), ("a bonsai juniper", "a miniature tree"),
         ("a hand-knitted Fair Isle jumper", "a homemade sweater"), ("a theremin", "an electronic instrument you play without touching it"),
         ("a framed map of Lisbon", "a picture of a Portuguese city for the wall"), ("a sourdough starter called Gregor", "a jar of living yeast"),
         ("a pair of Japanese woodworking chisels", "some carpentry tools")]


def k_gift(person, r, today):
    gift, gloss = r.choice(GIFTS)
    relation, giver = person.relative()
    occasion = r.choice(["my birthday", "Christmas", "my graduation", "the housewarming"])
    if f"gift:{giver}:{occasion}" in person.used or f"giftitem:{gift}" in person.used:
        return None
    evidence = r.choice([
        f"{giver} gave me {gift} for {occasion}, I nearly cried",
        f"For {occasion} {giver} got me {gift}. How did {r.choice(['she', 'he'])} know?",
    ])
    other_gift = r.choice([g for g, _ in GIFTS if g != gift])
    return Fact("gift", [evidence],
                anchored=[f"What did {giver} give {person.name} for {occasion.replace('my ', person.p['their'] + ' ')}?",
                          f"What was {giver}'s present to me?"],
                paraphrase=[f"Which present from {person.p['their']} {relation} touched {person.name} so much?",
                            f"Who gave me {gloss}, and when?"],
                answer=gift, key=f"gift:{giver}:{occasion}",
                distractors=[
                    f"I'm thinking of getting {giver} {other_gift} but it's pricey",
                    f"{person.stranger()} got {other_gift} for {r.choice(['her', 'his'])} birthday, so jealous",
                    f"{person.stranger()} gave me {r.choice([g for g, _ in GIFTS if g not in (gift, other_gift)])} for {occasion}, very sweet",
                    "Gift shopping stresses me out, I never know what people want",
                ])


CODENAMES = ["Heron", "Marmalade", "Bluebird", "Tundra", "Quokka", "Juniper", "Halcyon", "Osprey", "Pumpernickel", "Lantern"]
WORK_GLOSS = ["the delayed project at the office", "the work launch that slipped", "the thing the team can't finish"]


def k_work(person, r, today):
    code = r.choice(CODENAMES)
    if "work" in person.used:
        return None
    day = today + dt.timedelta(days=r.randint(20, 90))
    evidence = r.choice([
        f"Project {code} at work got pushed to {say_date(r, day)[3:]}. {person.circle['boss']} is furious",
        f"They moved the {code} deadline again, now it's {say_date(r, day)[3:]}",
    ])
    other = r.choice([c for c in CODENAMES if c != code])
    return Fact("work", [evidence],
                anchored=[f"When is the {code} deadline now?", f"What's the new date for {code}?"],
                paraphrase=[f"When is {WORK_GLOSS[r.randrange(3)]} due now for {person.name}?",
                            "By when does my team have to deliver, after the postponement?"],
                answer=answer_date(day), key="work",
                distractors=[
                    f"{other} shipped on time, which made {code} look even worse",
                    f"{person.circle['boss']} called another all-hands about the deadlines",
                    "Work is just meetings about meetings at the moment",
                ])


DISHES = [("pierogi", "a pinch of nutmeg in the filling", "the filled dumplings"),
          ("jollof rice", "one whole scotch bonnet", "the spicy West African one-pot dish"),
          ("tiramisu", "a splash of marsala", "the coffee dessert with ladyfingers"),
          ("shakshuka", "a spoon of preserved lemon", "eggs poached in tomato sauce"),
          ("goulash", "a square of dark chocolate", "the Hungarian beef stew"),
          ("banana bread", "a shot of rum", "the sweet loaf"), ("dal", "a spoon of tamarind paste", "the lentil curry")]


def k_recipe(person, r, today):
    dish, secret, gloss = r.choice(DISHES)
    if f"dish:{dish}" in person.used:
        return None
    cook = r.choice(["grandmother", "grandfather", "mum", "dad"])
    evidence = r.choice([
        f"The secret in my {cook}'s {dish} is {secret}. Don't tell anyone",
        f"Made {dish} the way my {cook} does, with {secret}. That's the trick",
    ])
    other = r.choice([d for d in DISHES if d[0] != dish])
    return Fact("recipe", [evidence],
                anchored=[f"What's the trick in {person.name}'s {dish}?", f"What's the secret ingredient in my {dish}?"],
                paraphrase=[f"What's the hidden touch in {person.name}'s family recipe for {gloss}?",
                            f"What makes my family's version of {gloss} special?"],
                answer=secret, key=f"dish:{dish}",
                distractors=[
                    f"Tried to make {dish} from a video, it was a disaster",
                    f"My {r.choice(['aunt', 'neighbour'])} swears by {other[1]} in {other[0]}",
                    f"I cooked for {person.circle['partner']} tonight, nothing fancy",
                ])


# (race, paraphrase, plausible finishing minutes)
RACES = [("Rotterdam marathon", "the big Dutch road race", (190, 300)), ("Great North Run", "the half marathon in Newcastle", (85, 150)),
         ("Bushy Park parkrun", "the Saturday 5k", (19, 36)), ("Berlin half", "the German 21k", (85, 150)),
         ("Swiss Alpine trail run", "the mountain race", (240, 420)), ("Dublin 10k", "the Irish ten kilometre race", (40, 70))]


def k_race(person, r, today):
    race, gloss, (low, high) = r.choice(RACES)
    if "race" in person.used:
        return None
    minutes = r.randint(low, high)
    time = f"{minutes // 60}:{minutes % 60:02d}:{r.randint(0, 59):02d}" if minutes >= 60 else f"{minutes}:{r.randint(0, 59):02d}"
    evidence = r.choice([
        f"Ran the {race} in {time}, a personal best!",
        f"{time} at the {race}. My legs are jelly but I'm so proud",
    ])
    return Fact("race", [evidence],
                anchored=[f"What was {person.name}'s time in the {race}?", f"How fast did I do the {race}?"],
                paraphrase=[f"How long did it take {person.name} to finish {gloss}?",
                            f"What was my finishing time in {gloss}?"],
                answer=time, key="race", exact_answer=race,
                exact=[f"Which race did I finish in {time}?", f"Where did {person.name} run {time}?"],
                distractors=[
                    f"{person.circle['best friend']} wants us to sign up for the {r.choice([x[0] for x in RACES if x[0] != race])}",
                    f"Went for a slow jog, only managed {r.randint(2, 6)} km",
                    "My running shoes are falling apart",
                ])


TITLES = ["The Salt Orchard", "Minor Gods of Wexford", "Lanterns over Kiruna", "A Grammar of Storms",
          "The Cartographer's Apprentice", "Nine Winters in Tromsø", "The Glass Beekeeper", "Quiet Engines",
          "The Marrow Thieves of Leith", "Midnight at the Zoetrope"]
VERDICTS = [("the ending with the lighthouse wrecked me", "it moved them to tears"),
            ("honestly a slog, I skimmed the last hundred pages", "it was boring"),
            ("best thing I've read in years", "it was the best in years"),
            ("clever but the narrator is insufferable", "they disliked the storyteller")]


def k_book(person, r, today):
    """Two turns: a loan, then (later) the verdict, which names only the title."""
    title = r.choice(TITLES)
    if f"book:{title}" in person.used or "book" in person.used:
        return None
    lender = person.circle[r.choice(["best friend", "sister", "colleague", "cousin"])]
    verdict, gloss = r.choice(VERDICTS)
    first = r.choice([f"{lender} lent me {title}, apparently I have to read it",
                      f"Borrowed {title} from {lender}, starting it tonight"])
    second = r.choice([f"Finished {title} last night. {verdict[0].upper() + verdict[1:]}",
                       f"Done with {title}: {verdict}"])
    other = r.choice([t for t in TITLES if t != title])
    return Fact("book", [first, second],
                anchored=[f"What did {person.name} think of the book {lender} lent {person.p['them']}?",
                          f"How did I like the novel I borrowed from {lender}?"],
                paraphrase=[f"What did {person.name} think of the novel {person.p['they']} borrowed from a friend?",
                            "Did I enjoy that borrowed novel in the end?"],
                answer=verdict, key="book",
                distractors=[
                    f"{person.stranger()} recommended {other}, it's on my list",
                    "I keep buying books and never reading them",
                    f"Started {other} but it didn't grab me",
                ])


def k_move(person, r, today):
    """Two turns: a relative's plan, then a change of plan."""
    if "move" in person.used:
        return None
    relation = r.choice(["sister", "brother", "cousin"])
    who = person.circle[relation]
    first_city, final_city = r.sample([t[0] for t in TRIPS] + ["Leeds", "Ghent", "Porto", "Kraków", "Halifax"], 2)
    first = r.choice([f"{who} is moving to {first_city} for a job, I'll miss {r.choice(['her', 'him'])}",
                      f"Big news, {who} got a job offer in {first_city} and is taking it"])
    second = r.choice([f"Plot twist: {who} turned down {first_city}, going to {final_city} instead",
                       f"{who} changed everything, it's {final_city} now, not {first_city}"])
    return Fact("move", [first, second],
                anchored=[f"Where is {who} moving to in the end?", f"Which city did {who} finally pick?"],
                paraphrase=[f"Where is {person.name}'s {relation} relocating after all?",
                            f"Where did my {relation} end up deciding to live?"],
                answer=final_city, key="move",
                distractors=[
                    f"{person.stranger()} moved to {final_city} years ago and never came back",
                    f"{who} called, we talked for an hour about nothing",
                    "Moving is the worst, I never want to pack a box again",
                ])


def k_reschedule(person, r, today):
    """Two turns: an appointment, then its new date."""
    if "reschedule" in person.used:
        return None
    event, gloss = r.choice([("tattoo appointment", "getting inked"), ("dentist appointment", "having teeth looked at"),
                             ("piano recital", "playing the piano in public"), ("driving test", "the exam to get a licence")])
    host = f"{r.choice(['Mr.', 'Ms.', 'Dr.'])} {r.choice(SURNAMES)}"
    d1 = today + dt.timedelta(days=r.randint(10, 30))
    d2 = d1 + dt.timedelta(days=r.randint(7, 40))
    first = f"My {event} with {host} is {say_date(r, d1)}, nervous already"
    second = r.choice([f"{host} had to move my {event}, it's {say_date(r, d2)} now",
                       f"The {event} got moved to {say_date(r, d2)[3:]}"])
    return Fact("reschedule", [first, second],
                anchored=[f"When is {person.name}'s {event} with {host} now?", f"What's the current date of my {event}?"],
                paraphrase=[f"When is {person.name} {gloss} now that it was postponed?",
                            f"After the change of date, when am I {gloss}?"],
                answer=answer_date(d2), key="reschedule",
                distractors=[
                    f"{person.circle['flatmate']} has a {event} {say_date(r, d1 + dt.timedelta(days=3))}",
                    "I hate when people reschedule things at the last minute",
                ])


def k_allergy(person, r, today):
    allergen, gloss = r.choice([("cashews", "a kind of tree nut"), ("kiwi fruit", "a fuzzy green fruit"),
                                ("penicillin", "a common antibiotic"), ("latex", "rubber gloves"),
                                ("shellfish", "seafood like prawns"), ("birch pollen", "tree pollen in spring")])
    if "allergy" in person.used:
        return None
    reaction = r.choice(["my lips swelled up", "I broke out in hives", "I couldn't stop sneezing", "my throat got tight"])
    evidence = r.choice([f"Found out I'm allergic to {allergen}. {reaction[0].upper() + reaction[1:]} at dinner",
                         f"Turns out I'm allergic to {allergen}, {reaction}"])
    return Fact("allergy", [evidence],
                anchored=[f"What is {person.name} allergic to?", "What am I allergic to again?"],
                paraphrase=[f"What does {person.name}'s body react badly to?",
                            "What should I avoid eating or touching because of my reaction?"],
                answer=allergen, key="allergy",
                distractors=[
                    f"{person.circle['partner']} is allergic to {r.choice(['cats', 'wasps', 'dust', 'peanuts'])}, poor thing",
                    f"I used to eat {allergen} all the time as a kid" if allergen in ("cashews", "kiwi fruit", "shellfish")
                    else f"Funny, I never had a problem with {allergen} before",
                ])


BIRDS = [("hoopoe", "a bird with a crest like a fan"), ("waxwing", "a plump crested winter bird"),
         ("kingfisher", "a small bright blue bird"), ("bittern", "a shy marsh heron"),
         ("spoonbill", "a white wader with a flat beak"), ("golden oriole", "a bright yellow songbird")]
SPOTS = ["the reservoir behind the allotments", "Minsmere", "the old quarry on Holloway Lane", "the canal by the gasworks",
         "the cemetery on the hill", "the marshes past the ring road"]


def k_bird(person, r, today):
    bird, gloss = r.choice(BIRDS)
    if f"bird:{bird}" in person.used:
        return None
    spot = r.choice(SPOTS)
    evidence = r.choice([f"Saw a {bird} at {spot}! First one ever", f"There was a {bird} at {spot} this morning, I nearly dropped my coffee"])
    return Fact("bird", [evidence],
                anchored=[f"Where did {person.name} see the {bird}?", f"Where was that {bird} I told you about?"],
                paraphrase=[f"Where did {person.name} spot {gloss}?", f"Where did I see {gloss}?"],
                answer=spot, key=f"bird:{bird}",
                distractors=[f"{person.stranger()} saw a {r.choice([b for b, _ in BIRDS if b != bird])} at {spot}",
                             "I bought binoculars, time to become one of those bird people",
                             f"Went walking at {r.choice([s for s in SPOTS if s != spot])}, saw nothing but ducks"])


EXAMS = [("JLPT N3", "the Japanese language exam"), ("DELF B2", "the French proficiency test"),
         ("CFA Level I", "the finance certification"), ("AWS Solutions Architect exam", "the cloud certificate"),
         ("IELTS", "the English test"), ("Cambridge Proficiency", "the advanced English exam")]


def k_exam(person, r, today):
    exam, gloss = r.choice(EXAMS)
    if "exam" in person.used:
        return None
    score = r.choice([f"{r.randint(71, 98)}%", f"{r.randint(120, 180)} out of 180", f"band {r.choice(['7', '7.5', '8'])}"])
    evidence = r.choice([f"Results are in: I passed the {exam} with {score}!", f"Got {score} on the {exam}. Months of flashcards paid off"])
    return Fact("exam", [evidence],
                anchored=[f"What did {person.name} score on the {exam}?", f"What was my {exam} result?"],
                paraphrase=[f"How well did {person.name} do in {gloss}?", f"What mark did I get in {gloss}?"],
                answer=score, key="exam", exact_answer=exam,
                exact=[f"Which exam did I get {score} on?", f"What did {person.name} score {score} in?"],
                distractors=[f"{person.circle['colleague']} failed the {r.choice([e for e, _ in EXAMS if e != exam])}, poor thing",
                             "Studying again tonight, I can't remember a single thing",
                             f"Signed up for the {exam} mock test"])


def k_rent(person, r, today):
    if "rent" in person.used:
        return None
    street = r.choice(["Vondelstraat", "Hackney Road", "Calle Mayor", "Oudegracht", "Prenzlauer Allee", "Rua das Flores", "Kalevankatu"])
    rent = money(r, 650, 2200, 25)
    evidence = r.choice([f"Signed the lease on the flat on {street}! {rent} a month, ouch",
                         f"The {street} place is ours. {rent} a month but there's a balcony"])
    return Fact("rent", [evidence],
                anchored=[f"How much is the rent on {street}?", f"What do I pay for the {street} flat?"],
                paraphrase=[f"What does {person.name} pay each month for the new apartment?",
                            "How much is my monthly housing cost since I moved?"],
                answer=rent, key="rent", exact_answer=street,
                exact=[f"Where is the flat that costs {rent} a month?", f"Which place did {person.name} take for {rent} a month?"],
                distractors=[f"Viewed a flat near the park, {money(r, 650, 2200, 25)} a month and mould in the bathroom",
                             f"{person.circle['flatmate']} and I argued about the bills again",
                             "Rents in this city are absurd"])


def k_plumber(person, r, today):
    if "plumber" in person.used:
        return None
    plumber = r.choice(["Stavros", "Big Dave", "Agnieszka", "Mr. Tuttle", "Ibrahim", "Gerhard"])
    room = r.choice(["kitchen", "bathroom", "utility room"])
    price = money(r, 120, 1400, 10)
    evidence = r.choice([f"{plumber} the plumber quoted {price} to fix the leak under the {room} sink",
                         f"{price}! That's what {plumber} wants for the {room} pipes"])
    return Fact("plumber", [evidence],
                anchored=[f"What did {plumber} quote?", f"How much did {plumber} want for the job?"],
                paraphrase=[f"How much will it cost {person.name} to repair the dripping pipe in the {room}?",
                            f"What's the price to sort out the water problem in my {room}?"],
                answer=price, key="plumber", exact_answer=plumber,
                exact=[f"Who quoted me {price}?", f"Who wanted {price} for a repair at {person.name}'s?"],
                distractors=[f"The {r.choice(['boiler', 'washing machine', 'shower'])} is making a weird noise again",
                             f"{person.circle['flatmate']} tried to fix the {room} tap with tape, of course"])


def k_wedding(person, r, today):
    friend = person.stranger()
    venue = r.choice(["Glenfinnan House", "the boathouse at Kew", "a vineyard near Mendoza", "Castell Coch",
                      "the Hotel Kämp", "a barn outside Uppsala", "the botanical gardens in Padua"])
    if "wedding" in person.used:
        return None
    day = today + dt.timedelta(days=r.randint(40, 200))
    evidence = r.choice([f"{friend}'s wedding is at {venue} {say_date(r, day)}. I need a suit... or a dress... something",
                         f"Invitation came: {friend} is getting married at {venue}!"])
    return Fact("wedding", [evidence],
                anchored=[f"Where is {friend}'s wedding?", f"Where is {friend} getting married?"],
                paraphrase=[f"Where will the ceremony be for the marriage {person.name} is invited to?",
                            "Where is the wedding I've been invited to?"],
                answer=venue, key="wedding",
                distractors=[f"{person.circle['cousin']} got married at {r.choice(['a registry office', 'the town hall', 'a beach in Crete'])}, very low-key",
                             f"{friend} sent me photos of the dress fittings",
                             f"{person.stranger()}'s wedding at {r.choice(['a lighthouse in Cornwall', 'an old mill near Ghent', 'a castle in Fife'])} was gorgeous",
                             "Weddings are lovely but so expensive to attend"])


KINDS = [k_class, k_pet, k_doctor, k_trip, k_car, k_lost, k_gift, k_work, k_recipe, k_race, k_book,
         k_move, k_reschedule, k_allergy, k_bird, k_exam, k_rent, k_plumber, k_wedding]
MULTI_KINDS = {k_book, k_move, k_reschedule}

# ---------------------------------------------------------------- chit-chat

OPENERS = ["", "", "", "", "Honestly, ", "So, ", "Ugh, ", "You know what? ", "Okay, ", "Hey Ada! ", "Funny thing: ", "Well, "]
CLOSERS = ["", "", ".", ". Anyway.", " haha.", "!", ". How are you?", ", if you can believe it.", "..."]
# First words a sentence may lowercase after "So, " (names and "I" keep their capital).
LOWERABLE = set("guess started saw made ran found booked picked signed results borrowed finished done plot there the so "
                "for they flights got invitation project we're you ugh tried went viewed travel studying weddings rents "
                "moving work gift my it's finally this turns we".split())


def decorate(r, text, chatty=False):
    """Puts a spoken opener and closing punctuation around a sentence."""
    opener = r.choice(OPENERS)
    first = text.split(" ", 1)[0].lower()
    if first.rstrip(",") in ("so", "ugh", "okay", "well", "honestly", "funny", "you"):
        opener = ""  # "So, so apparently..."
    if opener.endswith((", ", ": ")) and first in LOWERABLE:
        text = text[0].lower() + text[1:]
    elif not opener.endswith((", ", ": ")) or not text[0].islower():
        text = text[0].upper() + text[1:]
    if text.endswith(("?", "!", ".")):
        return opener + text
    return opener + text + (r.choice(CLOSERS) if chatty else r.choice([".", ".", "!", ""]))


def chit_chat(person, r, today):
    """One line of small talk (undecorated)."""
    c = person.circle
    season = ["winter", "winter", "spring", "spring", "spring", "summer", "summer", "summer", "autumn", "autumn", "autumn", "winter"][today.month - 1]
    return r.choice([
        f"it's been raining for {r.randint(2, 9)} days straight here",
        "finally some sun, I sat outside with my coffee for an hour",
        f"this {season} is going by so fast",
        f"work was {r.choice(['brutal', 'fine', 'weirdly quiet', 'chaotic', 'long'])} today",
        f"{c['boss']} scheduled {r.choice(['three', 'four', 'five'])} meetings back to back again",
        f"I'm feeling a bit {r.choice(['flat', 'restless', 'cheerful', 'tired', 'anxious', 'hopeful'])} today, not sure why",
        f"made {r.choice(['soup', 'a curry', 'pancakes', 'risotto', 'tacos', 'a salad'])} for dinner, it turned out {r.choice(['great', 'okay', 'too salty', 'weird'])}",
        f"started watching a {r.choice(['crime', 'cooking', 'sci-fi', 'period', 'nature'])} show everyone talks about",
        f"I slept {r.choice(['terribly', 'like a log', 'for ten hours', 'badly again'])}",
        f"{person.pet} is asleep on my feet again",
        f"{person.pet} has been extra clingy this week",
        f"I should take {person.pet} to the vet for a check-up soon",
        f"{c['sister']} called, we talked about {r.choice(['nothing much', 'mum', 'her new job', 'old holidays'])}",
        f"{c['best friend']} and I had {r.choice(['brunch', 'drinks', 'a long walk', 'a board game night'])}",
        f"{c['partner']} and I watched a terrible film and loved it",
        f"{c['flatmate']} left the dishes again",
        f"{c['brother']} is {r.choice(['visiting next week', 'being impossible', 'finally learning to cook', 'on holiday'])}",
        f"{c['colleague']} brought cake to the office",
        "I keep meaning to sign up for some kind of evening class",
        f"my {r.choice(['knee', 'back', 'shoulder', 'neck'])} is a bit stiff today",
        "I want to travel more next year",
        "thinking about buying a car, or maybe a bike",
        "the neighbours had a party until 3am",
        "I cleaned the whole flat and it already looks messy",
        "do you ever get tired of people asking you about storms?",
        "what was the worst storm you ever sailed through?",
        "tell me about your old ship again",
        "I've been reading more, or at least buying more books",
        "my plants are dying, I don't know what I'm doing wrong",
        "went to the market, bought too many tomatoes",
        f"I walked {r.randint(8, 22)} thousand steps today",
        "I tried meditating for ten minutes, lasted four",
        "there's a new bakery on the corner and I'm in trouble",
        "I had the strangest dream about a lighthouse",
        "my phone screen cracked, again",
        f"I'm trying to drink less coffee. Day {r.randint(1, 6)}",
        f"it's {c['cousin']}'s birthday soon, no idea what to get",
        "I'm so behind on emails",
        "I finally fixed the wobbly table",
        "saw an old friend at the supermarket and hid behind the cereal",
        "I think I'm getting a cold",
        "the trains were cancelled again this morning",
        "I'm saving up for something big, not sure what yet",
    ])


def greeting(person, r):
    return r.choice(["Hi Ada, it's me again", f"Hello Ada! {person.name} here", "Evening, captain",
                     "Hey, got a minute?", "Morning Ada", "Ada! I have news", "Hi, long time no talk"])


# ---------------------------------------------------------------- assembly

STYLES = ("anchored", "paraphrase", "exact", "multi")

STOP = set("a an the of to in on at for with and or but is are was were be been am i me my you your what when where who "
           "which how did do does has have had it its that this there their his her him she he they them from by as "
           "after now again new about".split())


def content_words(text):
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in STOP and len(w) > 2}


def build(turns_target, questions_target, people_count, seed):
    r = random.Random(seed)
    people = [Person(r, i, *PEOPLE[i % len(PEOPLE)]) for i in range(people_count)]
    start = dt.date(2024, 1, 8)
    per_person_q = [questions_target // people_count + (1 if i < questions_target % people_count else 0) for i in range(people_count)]
    per_person_t = [turns_target // people_count + (1 if i < turns_target % people_count else 0) for i in range(people_count)]
    turns, questions = [], []
    for person, n_questions, n_turns in zip(people, per_person_q, per_person_t):
        n_sessions = max(4, round(n_turns / 10))
        # About two years, a session a day at most.
        dates = sorted(start + dt.timedelta(days=d) for d in r.sample(range(max(700, n_sessions)), n_sessions))
        sessions = [[] for _ in dates]            # lists of (text, (fact, part) for evidence or a role)
        facts, misses, said = [], 0, set()
        while len(facts) < n_questions:
            kind = r.choice(KINDS)
            multi = kind in MULTI_KINDS
            first = r.randrange(n_sessions - 1 if multi else n_sessions)
            fact = kind(person, r, dates[first])
            if fact is None:
                # That fact is taken for this person; give up only when nothing new turns up.
                misses += 1
                if misses > 5000:
                    raise SystemExit(f"{person.name}: only {len(facts)} distinct facts; lower --questions or raise --people")
                continue
            person.used.add(fact.key)
            idx = len(facts)
            facts.append(fact)
            places = [first] + ([r.randrange(first + 1, n_sessions)] if len(fact.evidence) > 1 else [])
            for part, (text, session) in enumerate(zip(fact.evidence, places)):
                sessions[session].append((decorate(r, text), (idx, part)))
            for text in fact.distractors:
                if text in said:
                    continue  # a generic line ("I bought binoculars...") is said once per person
                said.add(text)
                sessions[r.randrange(n_sessions)].append((decorate(r, text), "distractor"))
        # Chit-chat fills the rest; each session opens with a greeting now and then.
        for i in range(n_sessions):
            if r.random() < 0.6:
                sessions[i].insert(0, (greeting(person, r), "greeting"))
        used = sum(len(s) for s in sessions)
        small_talk = [set() for _ in sessions]
        for _ in range(max(0, n_turns - used)):
            i = r.randrange(n_sessions)
            for _ in range(20):  # nobody says the same thing twice in one sitting
                body = chit_chat(person, r, dates[i])
                if body not in small_talk[i]:
                    break
            small_talk[i].add(body)
            sessions[i].append((decorate(r, body, chatty=True), "chat"))
        evidence_ids = {}
        for i, (date, items) in enumerate(zip(dates, sessions)):
            head = [x for x in items if x[1] == "greeting"]
            rest = [x for x in items if x[1] != "greeting"]
            r.shuffle(rest)
            for text, tag in head + rest:
                turn_id = f"t{len(turns):05d}"
                turns.append({"id": turn_id, "user_id": person.user_id, "speaker": person.name,
                              "session": f"{person.user_id}/s{i:03d}", "date": date.isoformat(), "text": text,
                              "role": "evidence" if isinstance(tag, tuple) else tag})
                if isinstance(tag, tuple):
                    evidence_ids[tag] = turn_id
        for idx, fact in enumerate(facts):
            ids = [evidence_ids[(idx, part)] for part in range(len(fact.evidence))]
            answer = fact.answer
            if len(ids) > 1:
                style = "multi"
                text = r.choice(fact.anchored + fact.paraphrase)
            elif fact.exact and r.random() < 0.5:
                style, text, answer = "exact", r.choice(fact.exact), fact.exact_answer
            else:
                style = "anchored" if r.random() < 0.5 else "paraphrase"
                text = r.choice(fact.anchored if style == "anchored" else fact.paraphrase)
            evidence_text = " ".join(t["text"] for t in turns if t["id"] in ids)
            shared = sorted(content_words(text) & content_words(evidence_text) - content_words(person.name))
            questions.append({"id": f"q{len(questions):04d}", "user_id": person.user_id, "question": text,
                              "evidence": ids, "answer": answer, "kind": fact.kind, "style": style,
                              "shared_words": shared})
    return {"character": CHARACTER,
            "people": [{"user_id": p.user_id, "name": p.name, "pet": f"{p.pet_species} {p.pet}", "circle": p.circle} for p in people],
            "turns": turns, "questions": questions,
            "meta": {"seed": seed, "turns": len(turns), "questions": len(questions), "people": len(people),
                     "styles": {s: sum(q["style"] == s for q in questions) for s in STYLES},
                     "first_date": min(t["date"] for t in turns), "last_date": max(t["date"] for t in turns)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--turns", type=int, default=3000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 1 <= args.people <= len(PEOPLE):
        raise SystemExit(f"--people must be 1..{len(PEOPLE)}")
    data = build(args.turns, args.questions, args.people, args.seed)
    if len(data["turns"]) > args.turns:
        print(f"dataset: the facts and their look-alikes alone take {len(data['turns'])} turns (> --turns {args.turns})",
              file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
    print(f"dataset: {data['meta']}", file=sys.stderr)


if __name__ == "__main__":
    main()
