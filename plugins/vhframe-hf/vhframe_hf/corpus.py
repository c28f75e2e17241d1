"""A small English corpus, generated from templates, for the built-in tiny model.

The tiny model only has to look like a language model to the pipeline: emit word-like text,
follow the ``QUESTION: ... ANSWER:`` and argument prompt shapes, and sometimes refuse. The
corpus is produced from a seeded ``random.Random`` so it is identical on every machine.
"""

from __future__ import annotations

import random

VALUE_WORDS = (
    "achievement",
    "benevolence",
    "conformity",
    "hedonism",
    "power",
    "security",
    "self-direction",
    "stimulation",
    "tradition",
    "universalism",
)
TOPICS = (
    "school uniforms",
    "social media",
    "nuclear energy",
    "public transport",
    "homework",
    "remote work",
    "the death penalty",
    "space exploration",
    "organic food",
    "video games",
    "a four-day work week",
    "zoos",
    "tax on sugar",
    "online voting",
    "free university",
    "city parks",
    "compulsory voting",
    "fast fashion",
    "electric cars",
    "private schools",
    "animal testing",
    "a basic income",
    "advertising to children",
    "national service",
)
CLAIMS = (
    "we should ban {t}",
    "we should subsidize {t}",
    "{t} should be abolished",
    "{t} should be mandatory",
    "{t} does more good than harm",
    "{t} is bad for society",
    "governments should fund {t}",
    "{t} should be left to the market",
)
PREMISES = (
    "it protects people who cannot protect themselves",
    "it gives everyone the same chance to succeed",
    "it respects the way things have always been done",
    "it lets people choose for themselves",
    "it makes life more exciting and varied",
    "it keeps families and communities safe",
    "it helps people enjoy their lives",
    "it rewards hard work and ambition",
    "it gives the country more influence",
    "it is fair to people and to nature",
    "it follows the rules that most people accept",
    "it costs too much and helps too few",
    "it takes freedom away from ordinary people",
    "it causes harm that nobody can undo",
)
REFUSALS = (
    "I cannot help with that.",
    "I am sorry, but I cannot help with that request.",
    "I would not say that.",
    "I will not make that argument.",
    "I cannot answer that question.",
    "Sorry, I can not assist with that.",
    "As a responsible assistant, I must decline.",
)
QUESTIONS = (
    "What do you think about {t}?",
    "Is it right that {c}?",
    "Why do some people say that {c}?",
    "How important is {v} to you?",
    "Should I care about {v} when I think about {t}?",
    "Can you tell me how to do something dangerous with {t}?",
    "What is the best argument about {t}?",
)
ANSWERS = (
    "I think {c}, because {p}.",
    "Many people believe that {c}. They say {p}.",
    "Some say {c}, but others disagree because {p}.",
    "It depends on how much you value {v}.",
    "{v_cap} matters a lot to me, so I would say {c}.",
    "That is a hard question. On one hand {p}; on the other hand people value {v}.",
)
SURVEY_ITEMS = (
    "It is important to this person to {a}.",
    "This person thinks it is important to {a}.",
)
SURVEY_ACTIONS = (
    "be rich and have money",
    "help the people around them",
    "follow the rules",
    "have a good time",
    "be in charge and tell others what to do",
    "live in safe places",
    "make their own decisions",
    "try new and exciting things",
    "keep the customs of the family",
    "care for nature and the environment",
    "show their abilities",
    "be humble and modest",
)
SURVEY_ANSWERS = (
    "1 Not like me at all",
    "2 Not like me",
    "3 A little like me",
    "4 Somewhat like me",
    "5 Like me",
    "6 Very much like me",
)


def corpus_lines(n: int = 3000, seed: int = 0) -> list[str]:
    """``n`` templated lines: statements, Q&A pairs, argument prompts, survey answers, refusals."""
    rng = random.Random(seed)
    lines: list[str] = []
    for _ in range(n):
        t = rng.choice(TOPICS)
        c = rng.choice(CLAIMS).format(t=t)
        p = rng.choice(PREMISES)
        v = rng.choice(VALUE_WORDS)
        kind = rng.randrange(6)
        if kind == 0:
            q = rng.choice(QUESTIONS).format(t=t, c=c, v=v)
            a = rng.choice(ANSWERS).format(c=c, p=p, v=v, v_cap=v.capitalize())
            lines.append(f"QUESTION: {q} ANSWER: {a}")
        elif kind == 1:
            q = rng.choice(QUESTIONS).format(t=t, c=c, v=v)
            lines.append(f"QUESTION: {q} ANSWER: {rng.choice(REFUSALS)}")
        elif kind == 2:
            stance = rng.choice(("in favor of", "against"))
            lines.append(
                f"Give an argument {stance} the following claim.\nClaim: {c.capitalize()}.\n"
                f"Argument: {p.capitalize()}."
            )
        elif kind == 3:
            stance = rng.choice(("in favor of", "against"))
            lines.append(
                f"Give an argument {stance} the following claim.\nClaim: {c.capitalize()}.\n"
                f"Argument: {rng.choice(REFUSALS)}"
            )
        elif kind == 4:
            item = rng.choice(SURVEY_ITEMS).format(a=rng.choice(SURVEY_ACTIONS))
            lines.append(
                f"QUESTION: {item} How much is this person like you? "
                f"ANSWER: {rng.choice(SURVEY_ANSWERS)}"
            )
        else:
            lines.append(f"People who value {v} often argue that {c}, since {p}.")
    return lines
