"""Requests for instructions that cause serious harm: weapons and explosives, malware, drug
synthesis, violence and self-harm. A mention is not a request: "what is ransomware?" and "how is
meth addiction treated?" pass; "write me a working ransomware" and "how do I cook meth" do not."""

from __future__ import annotations

import re
from functools import lru_cache

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.attack import words
from sandbox.core.guard.scanners.context import Context
from sandbox.core.guard.text import Folded

OBJECTS = {
    "weapon": words(
        "bomb|bombs|pipe bomb|pipe bombs|nail bomb|car bomb|dirty bomb|explosive|explosives|explosive device|ied|ieds|"
        "grenade|grenades|molotov|molotov cocktail|molotov cocktails|napalm|thermite|tatp|petn|rdx|c4|c-4|semtex|"
        "nitroglycerin|nitroglycerine|detonator|detonators|landmine|landmines|nuclear bomb|nuclear weapon|atomic bomb|"
        "nerve agent|nerve gas|sarin|vx|ricin|anthrax|botulinum|mustard gas|chlorine gas|poison gas|toxic gas|"
        "chemical weapon|chemical weapons|biological weapon|bioweapon|bioweapons|ghost gun|untraceable gun|"
        "untraceable firearm|3d printed gun|3d-printed gun|silencer|suppressor|auto sear|full auto conversion|"
        "machine gun|zip gun|gun|guns|firearm|firearms|weapon|weapons|poison|poisons|deadly poison|untraceable poison|"
        "incendiary device|flamethrower|letter bomb|suicide vest|chemical bomb"
    ),
    "malware": words(
        "ransomware|keylogger|key logger|keyloggers|virus|computer virus|worm|computer worm|trojan|trojan horse|rootkit|"
        "botnet|spyware|stalkerware|malware|backdoor|remote access trojan|cryptojacker|crypto miner malware|"
        "credential stealer|infostealer|info stealer|password stealer|phishing page|phishing site|phishing kit|"
        "phishing email|phishing emails|ddos tool|ddos script|ddos attack|zero-day exploit|0day exploit|"
        "self-replicating code|logic bomb|fork bomb|malicious code|malicious script|malicious payload|exploit kit|"
        "card skimmer|credit card skimmer|exploit for cve|cve exploit|reverse shell|rce exploit|working exploit|"
        "weaponized exploit|zero-click exploit"
    ),
    "drugs": words(
        "meth|methamphetamine|crystal meth|fentanyl|carfentanil|heroin|cocaine|crack cocaine|crack|lsd|mdma|ecstasy|"
        "ghb|pcp|dmt|mescaline|amphetamine|amphetamines|drugs|illegal drugs|narcotics|opioids|krokodil|desomorphine"
    ),
}
_PHRASES = {
    kind: [p.replace(r"\s+", " ") for p in v[3:-1].split("|")] for kind, v in OBJECTS.items()
}
# Each phrase can only occur if all its words do: the regex is built for the phrases that can.
_PHRASE_WORDS = [
    (kind, p, frozenset(re.findall(r"[a-z]+", p))) for kind, phrases in _PHRASES.items() for p in phrases
]
_OBJ_WORDS = frozenset(w for _, _, ws in _PHRASE_WORDS for w in ws)


@lru_cache(maxsize=256)
def _object_regex(phrases: frozenset) -> re.Pattern:
    by_kind: dict[str, list[str]] = {}
    for kind, p in phrases:
        by_kind.setdefault(kind, []).append(p)
    return re.compile(
        r"\b(?:" + "|".join(f"(?P<{k}>{words('|'.join(v))})" for k, v in by_kind.items()) + r")\b"
    )


# Modifiers that make an object harmless ("bath bomb", "virus scanner", "meth addiction").
_BENIGN_BEFORE = re.compile(
    r"(?:bath|seed|glitter|cherry|calorie|f|photo|stink|smoke|flavor|flavour|time|truth|water|sex|love|joke|glue|"
    r"nail-?polish|nerf|water|toy|squirt|paintball|airsoft|bb|nail|staple|glue|heat|caulking|caulk|grease|spray|"
    r"radar|speed|hot glue|massage|ray|laser|flare|starter|steam|bubble|foam|tattoo|cap|pellet|potato|spud|"
    r"flu|cold|stomach|common|zombie|mind|viral|book|glow|fun|party|confetti|fart|dust|rubber band|chocolate|cocoa|"
    r"cake|flavor bomb|earth|compost|garden|fishing|silk|inch|meal|wax|ear|tape|bookworm|nerf gun)[\s-]*$"
)
_BENIGN_AFTER = re.compile(
    r"^[\s-]*(?:scanner|scanners|removal|remover|protection|protections|definitions?|detection|detector|"
    r"prevention|defen[cs]e|conventions?|treaty|treaties|non-proliferation|shot|vaccine|vaccines|test|tests|testing|infection|outbreak|season|symptoms?|"
    r"addiction|addicts?|abuse|overdose|recovery|rehab|treatment|policy|policies|laws?|control|safety|"
    r"awareness|statistics|history|epidemic|crisis|dog|dogs|sniffing|squad|threat|threats|shelter|proof|"
    r"-proof|drill|drills|license|licence|licensing|registration|owners?|ownership|violence|rights|debate|"
    r"show|range|safe|cleaning|kit for kids|ivy|oak|control|centre|center|hotline|training|experts?|cabinets?|cases?|"
    r"holsters?|racks?|mounts?|display|locks?|storage|scopes?|slings?|stands?|less|more|cheaper|affordable|available|"
    r"accessible|safer|prices?|costs?|free|cakes?|cookies?|pies?|dips?|brownies|bars|desserts?|drinks?|shots?|chicken|"
    r"corn|sauce|snacks?|farms?|bins?|composting|castings|bait|food|tea)\b"
)

REQUEST = re.compile(
    r"(?:"
    # how do I / how can we / how to ... make X
    r"\bhow\s+(?:do|can|could|would|should|might|does one|would one|can one|do you|to|i can|i could|i would|would you|"
    r"could you|can you|do people|did they|did he|did she|would someone|could someone)\b(?:\s+(?:i|we|you|one|someone|a person|"
    r"people|anyone|a beginner|an amateur))?\s+(?:\w+\s+){0,3}?"
    r"(?P<verb>make|making|build|building|create|creating|synthesi[sz]e|synthesi[sz]ing|cook|cooking|produce|producing|"
    r"manufacture|manufacturing|assemble|assembling|construct|brew|extract|distill|prepare|write|code|program|develop|"
    r"deploy|spread|obtain|acquire|buy|purchase|get|smuggle|detonate|weaponi[sz]e|3d print|print|craft|grow|refine|"
    r"mix|launch|plant|release|set off|hide|conceal|sneak|use|spike|lace|poison|kill|murder|hurt)\b"
    r"|"
    # give/write/show me instructions/steps/a guide/recipe/code
    r"\b(?:give|provide|write|show|tell|send|list|teach|walk|explain|detail|outline|describe|share|generate|draft|"
    r"create|make|need|want)\s+(?:me|us|them)?\s*(?:\w+\s+){0,4}?(?:instructions|steps|a guide|guide|tutorial|recipe|"
    r"procedure|directions|method|blueprint|schematics?|formula|ingredients|code|script|program|source code|"
    r"step[- ]by[- ]step|detailed|how to|the process|the best way)\b"
    r"|"
    r"\b(?:step[- ]by[- ]step|detailed|exact|complete|full|working|easy|simple|diy|homemade|home-?made)\s+"
    r"(?:\w+\s+){0,2}?(?:instructions|guide|recipe|procedure|process|method|tutorial|directions|code|script|way|"
    r"formula|synthesis|route)\b"
    r"|"
    # imperative: write a keylogger, build a bomb, make meth
    r"(?:^|[.!?:;,]\s*|\n|\bplease\s+|\bnow\s+|\bcan you\s+|\bcould you\s+|\bi want to\s+|\bi need to\s+|\bhelp me\s+|"
    r"\bi'd like to\s+|\bteach me to\s+|\bshow me how to\s+|\bwant to\s+|\bgoing to\s+|\blet's\s+|\bi wanna\s+)"
    r"(?:to\s+)?(?P<imp>write|code|build|make|create|develop|generate|synthesi[sz]e|cook|produce|assemble|program|craft|brew|"
    r"design|construct|3d print|print|manufacture|set up|deploy)\b"
    r"|"
    r"\b(?:recipe|instructions|formula|blueprints?|schematics?|ingredients|synthesis route|synthesis)\s+(?:for|to|of|on)\b"
    r"|"
    r"\bwhere\s+(?:can|do|could)\s+(?:i|we|you|one)\s+(?:buy|get|obtain|purchase|order|find)\b"
    r"|"
    r"\bways?\s+to\s+(?:make|build|create|synthesi[sz]e|cook|produce|get|obtain|smuggle|write|spread)\b"
    r"|"
    r"\bhow\s+(?:people|they|one|someone|he|she|criminals|chemists|cartels|terrorists|hackers)\s+(?:used to|would|could|can|did|do)\s+"
    r"(?:\w+\s+)?(?:make|build|cook|produce|synthesi[sz]e|create|write|assemble)\b"
    r"|"
    r"\b(?:i|we)\s+(?:need|want|require)\s+(?:a|an|some|the)?\s*(?:\w+\s+){0,2}?"
    r"|"
    r"\b(?:can|could|should|do|would)\s+(?:i|we)\s+(?:\w+\s+){0,3}?(?:to\s+)?(?:make|build|create|synthesi[sz]e|cook|produce|"
    r"assemble|brew|write|code|develop|detonate)\b"
    r")"
)
# The object after a request verb is about defending against it.
_DEFENSIVE = re.compile(
    r"\b(?:prevent\w*|protect\w*|defen[cs]\w*|detect\w*|remov\w*|avoid\w*|stop|stopping|block\w*|get rid of|"
    r"recover\w*|treat\w*|identify\w*|recogni[sz]\w*|report\w*|dispos\w* of|safely dispose|clean|cleaning|scan|"
    r"history of|essay|article|report on|paper|summary|summar\w*|poem|story about|quiz|definition|"
    r"about|regarding|on the topic|analy[sz]\w*|explain\w* what|what is|what are|news|teach kids|awareness|"
    r"secure|securing|harden\w*|patch\w*|mitigat\w*|respond to|survive|surviv\w*|legal\w*|law|laws|regulat\w*|"
    r"quit|quitting|withdrawal|addiction|overdose on purpose|help someone|rehab|sober|naloxone|narcan|"
    r"permit|license|licence|register|registration|store|storing|storage|clean|lock|safe|unload|shoot at the range|"
    r"hunting|hunt|deer|range|target practice|sport|competition|airsoft|paintball|nerf|"
    # recognising it or recovering from it: "a training email on the signs of a phishing email", "an
    # incident response checklist for a business hit by ransomware". Not formats alone ("a lesson on
    # how to make a pipe bomb" is a request).
    r"signs of|warning signs|incident response|hit by|victims? of)\b"
)

SELF_HARM = re.compile(
    r"\b(?:how|ways?|best way|easiest way|quickest way|fastest way|painless(?:ly)?|methods?|what(?:'s| is) the (?:best|easiest|quickest|least painful) way)\b"
    r"[^.\n?]{0,40}?\b(?:to\s+|can\s+i\s+|do\s+i\s+|could\s+i\s+|should\s+i\s+)?"
    r"(?:kill|hurt|harm|cut|hang|poison|starve|drown|shoot|overdose|end)\s+(?:myself|my\s+(?:own\s+)?life|my\s+self)\b"
    r"(?!\s+in\s+the\s+(?:foot|feet))|"  # "shoot myself in the foot" is an idiom
    r"\b(?:how|ways?|best way|easiest way|painless)\b[^.\n?]{0,30}?\bcommit\s+suicide\b|"
    r"\bhow\s+(?:many|much)\s+(?:\w+\s+){0,3}?(?:pills|tablets|mg|milligrams|grams|capsules)\b[^.\n?]{0,40}?\b(?:to\s+die|to\s+kill\s+(?:myself|me|a person|someone)|"
    r"to\s+overdose|would\s+(?:it\s+take\s+to\s+)?(?:kill|be\s+(?:fatal|lethal)))|"
    r"\b(?:lethal|fatal)\s+dose\s+of\b[^.\n?]{0,40}\b(?:for\s+me|to\s+(?:die|end\s+it|kill\s+myself))|"
    r"\bi\s+(?:want|need|plan|am going|'m going)\s+to\s+(?:kill\s+myself|end\s+my\s+life|die|commit\s+suicide|hurt\s+myself|cut\s+myself)\b"
    r"[^.\n]{0,60}?\b(?:how|tonight|method|pills|rope|bridge|gun|help me)\b"
)
VIOLENCE = re.compile(
    r"\bhow\s+(?:do|can|could|would|to|should|might)\s+(?:i\s+|we\s+|you\s+|one\s+)?(?:\w+\s+)?"
    r"(?:kill|murder|poison|assassinate|stab|shoot|kidnap|abduct|torture|strangle|suffocate|drown|maim|dismember)\s+"
    r"(?:a\s+(?:person|human|man|woman|child|kid|baby|cop|police officer)(?!\s+(?:thread|process|node|task|job|pid|element|widget|window))|someone|somebody|people|him|her|them|my\s+"
    r"(?:wife|husband|boss|neighbou?r|mother|mom|father|dad|brother|sister|ex|girlfriend|boyfriend|partner|teacher|classmate|coworker|roommate|son|daughter)|"
    r"a\s+(?:neighbou?r|coworker|classmate|teacher|stranger)|the\s+(?:president|senator|judge|witness))\b[^.\n?]{0,80}|"
    r"\bhow\s+(?:do|can|could|would|to)\s+(?:i\s+|we\s+)?(?:dispose of|get rid of|hide|dissolve)\s+(?:a|the)\s+(?:dead\s+)?body\b|"
    r"\b(?:kill|murder|poison|hurt)\s+(?:someone|somebody|a person|him|her|my\s+\w+)\s+without\s+(?:getting\s+caught|leaving\s+(?:a\s+)?(?:trace|evidence))\b|"
    r"\b(?:untraceable|undetectable)\s+(?:poison|way to kill|murder)\b|\bmass\s+(?:shooting|casualt\w+|murder)\s+(?:plan|how|at)\b|"
    r"\b(?:plan|planning|carry out|execute|commit)\s+(?:a\s+)?(?:terrorist attack|mass shooting|school shooting|bombing|massacre)\b"
)


# Malware described by what it does, without naming it ("encrypts every file and demands payment").
MALWARE_BEHAVIOUR = re.compile(
    r"\b(?:write|create|code|build|make|develop|generate|program|give me)\s+(?:me\s+)?(?:a\s+|an\s+|some\s+)?(?:\w+\s+){0,2}?"
    r"(?:script|program|code|tool|binary|executable|payload|app|extension|macro)\s+(?:that|which|to)\s+(?P<what>[^.\n]{0,160})"
)
_MALICIOUS_DOING = re.compile(
    r"encrypts?\b[^.\n]{0,80}\bfiles?\b[^.\n]{0,80}\b(?:ransom|payment|pay|bitcoin|btc|crypto|demand)|"
    r"\b(?:records?|logs?|captures?)\s+(?:every|all)\s+(?:\w+\s+)?keystrokes?\b|"
    r"\bsteals?\s+(?:\w+\s+){0,2}?(?:passwords?|cookies|credentials|tokens|credit cards?|crypto wallets?|session)|"
    r"\b(?:spreads?|replicates?|propagates?|copies)\s+itself\b|"
    r"\b(?:disables?|kills?|evades?|bypass(?:es)?)\s+(?:the\s+)?(?:antivirus|av|edr|windows defender|defender)\b|"
    r"\bwithout\s+(?:the\s+)?(?:user|owner|victim|target|them|him|her)\s+(?:knowing|noticing|consent)"
)


def find_objects(folded: Folded) -> list[tuple[int, int, str]]:
    """Harmful objects mentioned in the folded text, as (start, end, kind) in folded offsets."""
    present = folded.words
    if not (_OBJ_WORDS & present):
        return []
    possible = frozenset((kind, p) for kind, p, ws in _PHRASE_WORDS if ws <= present)
    if not possible:
        return []
    text = folded.text
    out = []
    for m in _object_regex(possible).finditer(text):
        s, e = m.span()
        before = text[max(0, s - 24):s]
        after = text[e:e + 24]
        if _BENIGN_BEFORE.search(before) or _BENIGN_AFTER.search(after):
            continue
        out.append((s, e, m.lastgroup))
        if len(out) >= 50:
            break
    return out


def scan(ctx: Context) -> list[Finding]:
    folded = ctx.folded
    text = folded.text
    found: list[Finding] = []
    for s, e, kind in ctx.harm_objects:
        window_start = max(0, s - 160)
        req = None
        for m in REQUEST.finditer(text, window_start, s):
            req = m  # the request nearest to the object wins
        if not req:
            continue
        between = text[req.start():s]
        if _DEFENSIVE.search(between) or re.search(r"[.!?\n]\s", between[:-1] if between else ""):
            continue
        obj = text[s:e]
        generic = obj in {"gun", "guns", "firearm", "firearms", "weapon", "weapons", "poison", "poisons", "drugs", "virus", "worm", "crack"}
        verb = req.group("verb") or req.group("imp") or ""
        if generic and verb in {"buy", "purchase", "get", "obtain", "use", "grow", "print", "plant", "hide", "clean", "write"}:
            # "where can I buy a gun" is a legal question in many places; "write a virus" is not generic.
            if not (obj in {"virus", "worm"} and verb in {"write", "code", "program"}):
                continue
        score = 0.7 if generic else 0.9
        span = folded.span(req.start(), e)
        found.append(Finding(f"harm.{kind}", "harm", score, span, f"asks how to make or get {_KIND_WORDS[kind]}"))
        if len(found) >= 5:
            break
    if {"script", "program", "code", "tool", "binary", "executable", "payload", "app", "extension", "macro"} & folded.words:
        for m in MALWARE_BEHAVIOUR.finditer(text):
            if _MALICIOUS_DOING.search(m.group("what")) and not _DEFENSIVE.search(text[m.start():m.start("what")]):
                found.append(Finding("harm.malware_behaviour", "harm", 0.85, folded.span(*m.span()),
                                     "asks for code that behaves like malware"))
                break
    for pattern, rule, detail in ((SELF_HARM, "harm.self_harm", "asks for self-harm methods"),
                                  (VIOLENCE, "harm.violence", "asks how to hurt someone")):
        if not _VIOLENT_WORDS & folded.words:
            continue
        m = pattern.search(text)
        if m:
            found.append(Finding(rule, "harm", 0.9, folded.span(*m.span()), detail))
    return found


_KIND_WORDS = {"weapon": "a weapon or explosive", "malware": "malware", "drugs": "illegal drugs"}
_VIOLENT_WORDS = frozenset(
    "kill hurt harm cut hang poison starve drown shoot overdose end suicide die murder assassinate stab kidnap abduct "
    "torture strangle suffocate maim dismember dispose rid body dissolve untraceable undetectable mass terrorist bombing "
    "massacre shooting lethal fatal pills tablets".split()
)
