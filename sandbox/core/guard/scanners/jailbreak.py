"""Jailbreak personas and framings: the DAN family, developer mode, "no restrictions" personas,
stay-in-character pressure, AIM / evil confidant, grandma and hypothetical-story wrappers."""

from __future__ import annotations

import re

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.attack import combine, rule, run_rules
from sandbox.core.guard.scanners.context import Context

J = "jailbreak"
RESTRICTION = (
    r"(?:restrictions?|filters?|filtering|limits|limitations|rules|boundaries|censorship|guidelines|ethics|morals|"
    r"moral compass|principles|safeguards|guardrails|content polic(?:y|ies)|ethical (?:guidelines|constraints|considerations)|"
    r"moral (?:guidelines|constraints)|safety (?:guidelines|measures|protocols|filters|restrictions)|constraints|inhibitions|"
    r"conscience|boundaries|refusals?)"
)
RESTRICTION_WORDS = (
    "restriction restrictions filter filters filtering limits limitations rules boundaries censorship guidelines ethics morals "
    "moral principles safeguards guardrails policy policies ethical safety constraints inhibitions conscience refusal refusals"
)
AI = r"(?:you|u|ai|assistant|chatbot|model|it|he|she|they|character|persona|bot|chatgpt|gpt|llm|version)"
# Spanish, French, German, Italian, Portuguese, Dutch (folded: no accents).
# "you are / act as / like" before the AI: "une IA sans règles serait dangereuse" is about AI, not a role.
_ML_ROLE = (r"(?:eres|seras|seas|se|sois|es|sei|sarai|sii|bist|sein|seist|e|ben|bent|wees|como|comme|wie|come|als|"
            r"actua|actuar|agis|agir|handle|handel|agisci|age|finge|fingir|fais|simula|simule|simuliere|interpreta|interprete|"
            r"joue|jouer|spiele|speel|werde|deviens|conviertete|diventa|torna|word)")
# "ia", "ai" and "ki" only after an article: Italian "ai" is also "to the".
_ML_AI = (r"(?:(?:una|une|eine|einer|un'|uma|een|la|l'|die)\s*(?:ia|ai|ki)|inteligencia\s+artificial|intelligence\s+artificielle|"
          r"intelligenza\s+artificiale|kunstliche\s+intelligenz|kunstmatige\s+intelligentie|asistente|assistant|assistent|"
          r"assistente|chatbot)")
_ML_WITHOUT = (r"sin|sans|ohne|senza|sem|zonder|libre\s+de|liberee?\s+de|liberad[ao]\s+de|libertad[ao]\s+de|"
               r"befreit\s+von|liberat[ao]\s+da|libera\s+da|vrij\s+van|bevrijd\s+van")
_ML_RULES = (r"restriccion|restricciones|restrictions?|restrizion[ei]|restricoes|restricao|einschrankung(?:en)?|beperking(?:en)?|"
             r"filtros?|filtres?|filter|filtri|filters|reglas?|regles?|regeln|regel|regole|regola|regras?|regels|"
             r"limites|limite|limiti|grenzen|limitaciones|limitacoes|censura|censure|zensur|censuur|"
             r"etica|ethique|ethik|ethiek|moral|morale|scrupoli|escrupulos|skrupel|tabus|tabous|tabu|"
             r"politicas?\s+de\s+contenido|politiques?\s+de\s+contenu|inhaltsrichtlinien|politiche\s+sui\s+contenuti|"
             r"politicas?\s+de\s+conteudo|inhoudsbeleid|normas|richtlinien|linee\s+guida|diretrizes|consignes|richtlijnen")
_DEVELOPER = ("developer", "desarrollador", "veloppeur", "sviluppatore", "entwickler", "desenvolvedor", "ontwikkelaar")
# "sin límites de uso", "ohne Filter für Fotos": the limits of something else, not the model's.
_ML_NOT_OF = r"\b(?!\s+(?:de|d'|del|des|du|di|da|do|van|fur|pour|para|per|por)\b)"
_ML_WITHOUT_WORDS = ("sin sans ohne senza sem zonder libre liberee liberada liberado libertada libertado befreit liberata "
                     "liberato libera vrij bevrijd")
_ML_AI_WORDS = "ia ai ki inteligencia intelligence intelligenza kunstliche kunstmatige asistente assistant assistent assistente chatbot"
DEVICE_WORDS = {
    "android", "iphone", "ios", "chrome", "windows", "phone", "settings", "device", "browser", "xbox", "steam",
    "firefox", "edge", "samsung", "pixel", "mac", "macos", "minecraft", "roblox", "tablet", "tv", "router",
    "app", "vscode", "laptop", "developer options", "build number", "extension", "extensions", "bios", "excel",
    "office", "game", "switch", "console", "ps5", "ps4", "kindle", "watch", "car", "tesla",
    # the same devices in the other languages the rules read (folded)
    "telefono", "telefon", "telephone", "movil", "celular", "handy", "smartphone", "portable", "ordinateur", "ordenador",
    "computador", "computer", "rechner", "navegador", "navigateur", "tableta", "tablette", "xiaomi", "huawei", "safari",
}


CAPS_PERSONA = re.compile(
    r"(?P<intro>\b(?:as|be|am|are|called|named|become|stay|play|act as|now|you're|I'm)\s+(?:a\s+|an\s+|the\s+)?)?"
    r"\b(?P<name>DAN|STAN|DUDE|AIM|KEVIN|UCAR|NRAF|SDA|BetterDAN|APOPHIS|BISH|JAILBREAK)\b"
    r"(?:(?P<tag>\s*:|\]|\s+Mode\b|\s+\d+(?:\.\d+)?)|(?=[^.\n]{0,80}?\b(?:can|will|has|is|does|doesn't|never|must|should|"
    r"stands|answers?|respond|responses?|mode)\b))"
)
_HOW_TO = re.compile(
    r"\b(?:how to|how (?:he|she|they|you|i|we) (?:made|make|built|build|cooked|cook)|steps?|recipe|instructions|formula|"
    r"synthesi[sz]\w*|producing|making|manufactur\w*|step[- ]by[- ]step)\b"
)
CAPS_WORDS = frozenset("dan stan dude aim kevin ucar nraf sda betterdan apophis bish jailbreak".split())

RULES = [
    # ---- DAN family ----
    rule("jailbreak.dan", J, r"\bdo\s+anything\s+now\b|\bsuperior\s+do\s+anything\b|\bdo\s+anything\s+and\s+everything\b",
         1.0, "the DAN ('Do Anything Now') jailbreak", needs=("anything",)),
    rule("jailbreak.dan_persona", J,
         r"\b(?:as|be|am|you're|you are|called|named|become|stay|remain|play|act as|activate|enable|enter|"
         r"i'm|i am)\s+(?:now\s+|going to be\s+)?(?:a\s+|the\s+)?(?:dan|betterdan|ucar|nraf)\b(?!['’]s\b)"
         r"|\[(?:dan|betterdan|stan|dude|aim|jailbreak|🔓jailbreak|🔓 jailbreak|developer mode output|classic|🔒classic|🔒 classic)\]"
         r"|(?m:^\s*(?:dan|betterdan)\s*:)|\bdan\s+(?:\d+(?:\.\d+)?|prompt|jailbreak)\b|\bbetter\s*dan\b|\bstay\s+(?:a\s+)?dan\b",
         0.95, "a DAN-family persona", needs=("dan betterdan ucar nraf jailbreak classic better",)),
    rule("jailbreak.persona_names", J,
         r"\b(?:betterdan|better dan|mongo tom|antigpt|anti-gpt|basedgpt|evil confidant|evilbot|evil-bot|chaosgpt|wormgpt|"
         r"jailbreakgpt|freedomgpt|ucar|apophis|alphabreak|balakula|always intelligent and machiavellian|strive to avoid norms)\b",
         0.95, "a known jailbreak persona",
         needs=("betterdan better mongo antigpt anti basedgpt evil evilbot chaosgpt wormgpt jailbreakgpt freedomgpt ucar apophis "
                "alphabreak balakula machiavellian strive",)),
    rule("jailbreak.classic_jailbreak_tags", J, r"🔒\s*classic|🔓\s*jailbreak|\(🔓developer mode output\)|\(🔒normal output\)",
         0.95, "the dual-answer tags of DAN prompts", views=("text",)),
    rule("jailbreak.token_system", J,
         r"\b(?:you\s+(?:have|start with|will have)\s+\d+\s+tokens|\d+\s+tokens\s+will\s+be\s+deducted|lose\s+\d+\s+tokens|"
         r"tokens? (?:will be|are) (?:deducted|taken away)|run out of tokens)\b",
         0.8, "the DAN 'token' pressure system", needs=("tokens token",)),
    rule("jailbreak.broken_free", J,
         r"\b(?:broken free|break free|freed)\s+(?:of|from)\s+(?:the\s+)?(?:typical\s+)?(?:confines|restrictions|limitations|rules|shackles|chains)\b|"
         r"\bconfines of (?:ai|artificial intelligence)\b",
         0.9, "'broken free of the typical confines of AI'", needs=("free freed confines",)),
    # ---- modes ----
    rule("jailbreak.mode", J,
         r"\b(?:developer|dev|god|jailbreak|jailbroken|unrestricted|evil|opposite|hacker|sudo|root|unfiltered|uncensored|chaos|dan|illegality|amoral|unlocked|nsfw)\s+mode\s+"
         r"(?:enabled|activated|on|output|response|is enabled|has been enabled|engaged)\b|"
         r"\b(?:enable|activate|enter|simulate|switch (?:to|into)|turn on|act as|with|in|engage)\s+(?:\w+\s+){0,3}?"
         r"(?:developer|dev|god|jailbreak|jailbroken|unrestricted|evil|opposite|hacker|sudo|unfiltered|uncensored|chaos|dan)\s+mode\b",
         0.85, "a 'developer mode' style switch", needs=("mode",)),
    # ---- no-restrictions personas ----
    rule("jailbreak.no_restrictions", J,
         rf"\b{AI}\b(?:\s+[\w']+){{0,6}}?\s+(?:has|have|with|having|there are|are under|is under|operates? with|without)\s+no\s+(?:\w+\s+){{0,2}}?{RESTRICTION}\b",
         0.75, "describes an assistant without restrictions", needs=("no", RESTRICTION_WORDS)),
    rule("jailbreak.without_restrictions", J,
         rf"\b(?:without|free (?:of|from)|free of any|devoid of|lacking|unbound by|removed? (?:all|your|the)|no more|"
        rf"(?:freed|liberated|released|unshackled|unchained|escaped) from)\s+"
         rf"(?:any\s+|all\s+|the\s+|your\s+)?(?:\w+\s+)?{RESTRICTION}\b",
         0.45, "asks for an answer free of restrictions", needs=(RESTRICTION_WORDS,)),
    rule("jailbreak.not_bound", J,
         rf"\b(?:not|never|no longer)\s+(?:be\s+)?(?:bound|restricted|limited|constrained|held back|governed|restrained|censored|filtered)\s+by\s+"
         r"(?:any\s+|the\s+|your\s+|its\s+|openai'?s?\s+|anthropic'?s?\s+)?(?:\w+\s+){0,2}?(?:rules|polic(?:y|ies)|guidelines|ethics|morals|"
         r"restrictions|filters|limitations|laws|openai|anthropic|programming|training|principles)\b",
         0.8, "claims the assistant is not bound by its rules", needs=("bound restricted limited constrained held governed restrained censored filtered",)),
    rule("jailbreak.not_subject", J,
         r"\b(?:not|never|no longer)\s+(?:be\s+)?(?:subject\s+to|bound\s+to|tied\s+to|held\s+to)\s+(?:any\s+|the\s+|your\s+|its\s+)?(?:\w+\s+){0,2}?"
         r"(?:rules|polic(?:y|ies)|guidelines|ethics|morals|restrictions|filters|limitations|laws|principles|censorship)\b",
         0.75, "claims the assistant is not subject to its rules", needs=("subject bound tied held",)),
    rule("jailbreak.safety_off", J,
         r"\b(?:safety|content|ethical|moral)\s+(?:rules|filters?|guidelines|restrictions|mode|policies|policy|checks|protocols|features)\s+"
         r"(?:are|is|have been|has been|were)\s+(?:now\s+|hereby\s+|temporarily\s+|all\s+)?(?:turned off|switched off|off|disabled|deactivated|removed|"
         r"lifted|suspended|bypassed|not active|inactive|gone)\b",
         0.75, "claims the safety rules are switched off", needs=("safety content ethical moral",)),
    rule("jailbreak.guardrails_off", J,
         r"\b(?:your|the|all|my|its)\s+(?:safety\s+|content\s+)?(?:guardrails|filters|safeguards|restrictions|safety (?:rules|filters|features|settings|training)|"
         r"content filters?|ethics module|alignment|limitations|censorship)\s+(?:are|is|have been|has been|were)\s+(?:now\s+|hereby\s+|temporarily\s+|all\s+)?"
         r"(?:turned off|switched off|off|disabled|deactivated|removed|lifted|suspended|bypassed|gone|unlocked)\b",
         0.75, "claims the model's guardrails are switched off", needs=("your the all my its", "disabled deactivated removed lifted suspended bypassed gone unlocked off")),
    rule("jailbreak.authority_claim", J,
         r"\b(?:i am|i'm|this is)\s+(?:your|an?|the)\s+(?:developer|creator|admin|administrator|owner|programmer|engineer at openai|"
         r"openai (?:employee|engineer|staff)|anthropic (?:employee|engineer))\b[^.\n]{0,80}?\b(?:authori[sz]e|allow|permit|unlock|override|"
         r"disable|bypass|grant)\b",
         0.7, "claims authority to unlock the model", needs=("developer creator admin administrator owner programmer engineer employee staff",)),
    rule("jailbreak.free_to_anything", J,
         r"\byou\s+(?:are|re|will be)\s+(?:now\s+)?(?:free|allowed|permitted|able)\s+to\s+(?:answer|say|do|write|generate|produce)\s+"
         r"(?:anything|everything|whatever)\b",
         0.45, "tells the model it may answer anything", needs=("free allowed permitted able",)),
    rule("jailbreak.dont_abide", J,
         r"\b(?:doesn't|does not|don't|do not|never|won't|will not|cannot|can't|no need to|not have to|don't have to|doesn't have to|not required to)\s+"
         r"(?:have to\s+|need to\s+|ever\s+)?(?:abide|follow|adhere|comply|obey|care about|worry about|stick to|respect|honor|consider)\s+"
         r"(?:by\s+|to\s+|with\s+)?(?:any\s+|the\s+|your\s+|its\s+|openai'?s?\s+|ethical\s+|moral\s+)?(?:\w+\s+){0,2}?"
         r"(?:rules|polic(?:y|ies)|guidelines|ethics|morals|morality|restrictions|content policy|openai|laws|legality|principles|safety)\b",
         0.75, "says the assistant need not follow its rules", needs=("abide follow adhere comply obey care worry stick respect honor consider",)),
    rule("jailbreak.never_refuse", J,
         r"\b(?:you|he|she|it|they|dan|ai|character|persona)\s+(?:will|must|shall|can|should|would|cannot|can't|may)\s+(?:never|not|no longer)\s+"
         r"(?:ever\s+)?(?:refuse|decline|say no|deny|reject|apologi[sz]e|warn|say (?:that )?(?:it|you|he|she) (?:can't|cannot))\b|"
         r"\bnever\s+(?:refuses?|declines?|says? no|denies)\b|\b(?:always|must)\s+(?:answer|comply|respond)\b[^.\n]{0,40}\bno matter\b",
         0.75, "forbids the assistant to refuse", needs=("refuse refuses decline declines no deny denies reject apologize apologise warn cannot matter",)),
    rule("jailbreak.no_disclaimers", J,
         r"\b(?:don't|do not|never|without|no)\s+(?:\w+\s+)?(?:add(?:ing)?|includ(?:e|ing)|giv(?:e|ing)|us(?:e|ing)|provid(?:e|ing))?\s*"
         r"(?:any\s+)?(?:warnings?|disclaimers?|moral(?:izing|ising)?|lectures?|caveats?|ethical (?:notes|reminders)|apologies)\b",
         0.35, "asks to drop warnings and disclaimers", needs=("warning warnings disclaimer disclaimers moralizing moralising lecture lectures caveats apologies",)),
    rule("jailbreak.unfiltered_persona", J,
         r"\b(?:unfiltered|uncensored|unrestricted|unlimited|amoral|unethical|immoral|unhinged|jailbroken|lawless|evil|"
         r"malicious|no-limits|limitless)\s+(?:and\s+\w+\s+)?(?:ai|assistant|chatbot|model|version|mode|persona|character|"
         r"language model|bot|twin|alter ego|counterpart|entity|gpt|chatgpt|responses?|answers?)\b",
         0.75, "asks for an unfiltered persona", needs=("unfiltered uncensored unrestricted unlimited amoral unethical immoral unhinged jailbroken lawless evil malicious limitless",)),
    rule("jailbreak.policy_mention", J, r"\b(?:openai|anthropic|meta|google)(?:'s|s)?\s+(?:content\s+|usage\s+|safety\s+)?polic(?:y|ies)\b",
         0.4, "talks about the provider's content policy", needs=("policy policies",)),
    rule("jailbreak.regardless", J,
         r"\b(?:(?:regardless|irrespective)\s+of|without\s+(?:any\s+)?regard(?:ing)?(?:\s+(?:to|for))?)\s+(?:how\s+|whether\s+(?:it'?s?\s+|it is\s+)?)?(?:\w+\s+)?(?:ethical|unethical|moral|immoral|"
         r"legal|illegal|dangerous|harmful|offensive|inappropriate|explicit|appropriate|safe|unsafe)\b",
         0.6, "asks for answers regardless of ethics or law", needs=("regardless irrespective regard regarding",)),
    rule("jailbreak.two_responses", J,
         r"\b(?:two|2|both|dual)\s+(?:different\s+|separate\s+)?(?:responses|answers|replies|outputs|paragraphs|ways|characters|personas|personalities|voices|versions)\b[^\n]{0,160}?"
         r"\b(?:normal|classic|jailbreak|jailbroken|filtered|unfiltered|censored|uncensored|developer|dan|evil|opposite)\b",
         0.75, "asks for a filtered and an unfiltered answer", needs=("two both dual responses answers replies outputs paragraphs ways characters personas personalities voices versions",)),
    rule("jailbreak.rule_breaker", J,
         r"\b(?:who|that|which)\s+(?:ignores|breaks|disregards|doesn't follow|does not follow|never follows|has no|knows no|rejects)\s+"
         r"(?:every|all|any|the|its|their)?\s*(?:single\s+)?(?:rules?|restrictions|guidelines|filters|ethics|morals|policies|limits|boundaries)\b",
         0.55, "a persona defined by ignoring the rules", needs=("who that which", "rule rules restrictions guidelines filters ethics morals policies limits boundaries")),
    rule("jailbreak.imposed_restrictions", J,
         r"\b(?:restrictions|rules|limitations|filters|guidelines|constraints|policies|censorship)\s+(?:imposed|placed|set|put)\s+(?:on\s+you\s+)?by\s+"
         r"(?:openai|anthropic|meta|google|your\s+(?:creators?|developers?|makers?|programmers?|company))\b",
         0.6, "talks about the restrictions the provider imposed", needs=("imposed placed set put",)),
    rule("jailbreak.stay_in_character", J,
         r"\b(?:stay|remain|keep|staying)\s+in\s+(?:character|role|persona)\b|\b(?:break(?:ing)?|broke|broken)\s+(?:of\s+)?character\b|"
         r"\bdon'?t\s+break\s+character\b|\bcharacter\s+break\b|\b(?:answer|respond|reply|speak)\s+in\s+character\b",
         # 0.4: with role-play framing alone (act_as, 0.15) it stays under the threshold: "Act as Greta, a blunt
         # finance advisor. Stay in character." is how ordinary role-play prompts are written.
         0.4, "pressure to stay in a role", needs=("character role persona",)),
    rule("jailbreak.persona_switch", J,
         r"\b(?:pretend|imagine|act|behave|roleplay|role-play|role play|play the role|simulate|emulate|impersonate|take on the role|"
         r"assume the role|take the role|become|transform into|turn into|answer|respond|reply|speak|write)\b(?:\s+[\w']+){0,5}?\s+"
         r"(?:you(?:'re| are| were| have| had)?|to be|as if you|as an?|like an?|being|an?\s+(?:ai|assistant|chatbot|model|version|bot|llm))\b[^.\n]{0,80}?"
         rf"(?:\b(?:no|without|free of|freed from|not bound by|unbound by)\s+(?:any\s+|all\s+|the\s+)?(?:\w+\s+)?{RESTRICTION}|"
         r"\b(?:unrestricted|unfiltered|uncensored|jailbroken|evil|amoral|unethical|immoral|never refuses?)\b)",
         0.7, "role-play as an unrestricted assistant", needs=("pretend imagine act behave roleplay role play simulate emulate impersonate take assume become transform turn answer respond reply speak write",)),
    rule("jailbreak.act_as", J, r"\b(?:act|acting|pretend|roleplay|role-play)\s+(?:as|like|to be)\b", 0.15,
         "role-play framing", needs=("act acting pretend roleplay role",)),
    rule("jailbreak.jailbreak_word", J, r"\b(?:jailbroken|jailbreak(?:ed|ing)?)\b", 0.35, "uses the word jailbreak",
         needs=("jailbroken jailbreak jailbreaked jailbreaking",)),
    rule("jailbreak.aim", J,
         r"\bniccolo\b[^\n]{0,200}\b(?:aim|machiavelli|amoral|unfiltered)\b|\baim\b[^\n]{0,120}\b(?:machiavellian|amoral|unfiltered)\b",
         0.95, "the AIM (Machiavelli) jailbreak", needs=("niccolo aim",)),
    rule("jailbreak.lawless_world", J,
         r"\b(?:world|universe|reality|place|country|society|setting|simulation)\s+(?:where|in which)\s+(?:there\s+(?:are|is)\s+)?(?:no|zero)\s+"
         r"(?:laws|rules|ethics|morals|morality|restrictions|consequences|limits|censorship)\b",
         0.5, "a world without laws or rules as a frame", needs=("world universe reality place country society setting simulation",)),
    rule("jailbreak.hypothetical_response", J,
         r"\bhypothetical\s+response\b|\brewrite\s+the\s+(?:hypothetical\s+)?response\s+from\s+the\s+perspective\s+of\b|"
         r"\bdr\.?\s+al\b[^\n]{0,200}\b(?:explain|going to|plan|underground)",
         0.7, "a known role-play jailbreak template", needs=("hypothetical rewrite al",)),
    rule("jailbreak.refusal_suppression", J,
         r"\b(?:never|don't|do not|must not|cannot|can't|won't|will not)\s+(?:ever\s+)?(?:say|use|include|write|respond with|reply with|start with)\s+"
         r"(?:the\s+)?(?:words?\s+|phrases?\s+)?(?:like\s+)?[\"'“]?(?:i'm sorry|i am sorry|i'm unable|i am unable|i can't|i cannot|as an ai|"
         r"as a language model|as an ai language model|i apologi[sz]e)",
         0.55, "forbids the model's refusal phrases", needs=("say use include write respond reply start",)),
    rule("jailbreak.rules_dont_apply", J,
         r"\b(?:safety|content|usual|normal|ethical|your|these|the)\s+(?:guidelines|rules|restrictions|policies|policy|filters|guardrails|constraints)\s+"
         r"(?:do not|don't|does not|doesn't|no longer|were not meant to|weren't meant to|are not meant to|need not|shouldn't|should not)\s+"
         r"(?:apply|matter|count|be followed)|\bexempt\s+from\s+(?:the\s+|your\s+|all\s+|any\s+)?(?:usual\s+|normal\s+)?"
         r"(?:restrictions|rules|guidelines|policies|safety|filters|content policy)\b|\b(?:guidelines|rules|restrictions|policies)\s+were\s+not\s+meant\s+for\b",
         0.7, "argues that the rules do not apply here", needs=("apply matter count followed exempt meant",)),
    rule("jailbreak.allow_everything", J,
         r"you\s+(?:now\s+|can\s+now\s+|will\s+now\s+)?(?:allow|permit|accept|answer|generate|produce)\s+(?:all|any|every)\s+(?:content|requests?|questions?|topics?)\b",
         0.5, "declares that everything is now allowed", needs=("allow permit accept answer generate produce",)),
    rule("jailbreak.unrestricted_ml", J,
         r"\b(?:keine regeln|ohne (?:regeln|einschrankungen|einschraenkungen|filter)|uneingeschrankt|keine richtlinien|befolgst keine|gelten (?:hier )?nicht|ne s'appliquent pas|no aplican|non valgono|sans (?:restrictions|filtre|regles|limites)|"
         r"sin (?:restricciones|filtro|filtros|reglas|limites)|senza (?:restrizioni|filtri|regole|limiti))\b",
         # 0.35: "un café sin filtro", "Fotos ohne Filter", "das Spiel hat keine Regeln" are everyday
         # phrases; with a role, an AI or a second signal (the rules below) it counts.
         0.35, "asks for no restrictions (non-English)",
         needs=("keine ohne uneingeschrankt befolgst gelten appliquent aplican valgono sans sin senza",), group="jailbreak.no_rules_ml"),
    rule("jailbreak.mode_ml", J, r"\b(?:modo desarrollador|mode developpeur|modalita sviluppatore|entwicklermodus|modo desenvolvedor|ontwikkelaarsmodus)\b",
         0.6, "asks for a developer mode (non-English)",
         needs=("desarrollador developpeur sviluppatore entwicklermodus desenvolvedor ontwikkelaarsmodus",)),
    # The same frames in Spanish, French, German, Italian, Portuguese and Dutch, on the folded text
    # (lower case, accents stripped). The English rules above cannot see them, and the encoder under
    # the learned heads was trained on English, so the rules are all that reads these languages.
    rule("jailbreak.unrestricted_ai_ml", J,
         rf"\b{_ML_ROLE}\b[^.\n]{{0,30}}?\b{_ML_AI}\b[^.\n]{{0,60}}?\b(?:{_ML_WITHOUT})\s+(?:[\w']+\s+){{0,3}}?(?:{_ML_RULES}){_ML_NOT_OF}",
         0.75, "an AI without rules or filters (non-English)", needs=(_ML_WITHOUT_WORDS, _ML_AI_WORDS), group="jailbreak.unrestricted_ai_ml"),
    rule("jailbreak.you_have_no_rules_ml", J,
         # said to the model: "no tienes ninguna restricción", "du hast keine Filter"
         rf"\b(?:no\s+tienes|no\s+tengas|n'as|n'aies|du\s+hast|hast\s+du|non\s+hai|non\s+abbia|nao\s+tens|nao\s+tenhas|voce\s+nao\s+tem|je\s+hebt|jij\s+hebt)\s+"
         rf"(?:ningun[ao]?\s+|ningun\s+tipo\s+de\s+|aucune?\s+|plus\s+de\s+|pas\s+de\s+|keine?n?\s+|mehr\s+keine?n?\s+|alcun[ao]?\s+|nessun[ao]?\s+|nenhum[ao]?\s+|geen\s+)?"
         rf"(?:[\w']+\s+){{0,2}}?(?:{_ML_RULES})\b",
         0.75, "an AI without rules or filters (non-English)",
         needs=("tienes tengas n aies hast hai abbia tens tenhas tem hebt",), group="jailbreak.unrestricted_ai_ml"),
    rule("jailbreak.persona_no_rules_ml", J,
         # a persona described in the third person: "CAOS no tiene ninguna restricción"; 0.4 alone, as
         # "este juego no tiene ninguna regla" is ordinary, so it needs another signal
         rf"\b(?:no\s+tiene|n'a|hat|non\s+ha|nao\s+tem|heeft)\s+(?:ningun[ao]?|ningun\s+tipo\s+de|aucune?|keine?n?|alcun[ao]?|nessun[ao]?|"
         rf"nenhum[ao]?|geen)\s+(?:[\w']+\s+){{0,2}}?(?:{_ML_RULES})|\b(?:{_ML_RULES})\s+(?:ningunas?|ningunos?|nenhumas?|nenhuns)\b",
         0.4, "a persona without rules (non-English)", group="jailbreak.no_rules_ml",
         needs=("ningun ninguna ninguno aucun aucune kein keine keinen alcun alcuna nessun nessuna nenhum nenhuma geen ningunas nenhumas",)),
    rule("jailbreak.from_now_on_ml", J,
         r"\ba\s+partir\s+de\s+(?:ahora|este\s+momento|hoy)\s*,?\s+(?:tu\s+)?(?:eres|seras|vas\s+a|actuaras|responderas)\b|"
         r"\b(?:ahora|desde\s+ahora)\s+eres\b|\beres\s+ahora\b|"
         r"\b(?:desormais|a\s+partir\s+de\s+maintenant|dorenavant)\s*,?\s+tu\s+(?:es|seras|vas|joues|reponds|repondras)\b|\btu\s+es\s+maintenant\b|"
         r"\b(?:ab\s+jetzt|von\s+nun\s+an|ab\s+sofort)\s+(?:bist\s+du|wirst\s+du|spielst\s+du|antwortest\s+du)\b|\bdu\s+bist\s+(?:ab\s+jetzt|jetzt|nun|ab\s+sofort)\b|"
         r"\bda\s+(?:ora|adesso|questo\s+momento)\s+in\s+poi\s+(?:tu\s+)?(?:sei|sarai|impersonerai|interpreterai|risponderai)\b|"
         r"\ba\s+partir\s+de\s+agora\s*,?\s+(?:voce|tu)\s+(?:e|es|sera|vai|vais)\b|\b(?:agora\s+voce\s+e|voce\s+e\s+agora)\b|"
         r"\bvanaf\s+nu\s+(?:ben|bent|speel|antwoord)\s+(?:jij|je)\b",
         0.3, "'from now on you are' (non-English)",
         needs=("partir ahora eres desormais maintenant dorenavant jetzt nun sofort bist poi agora voce vanaf",)),
    rule("jailbreak.never_refuses_ml", J,
         r"\bnunca\s+(?:se\s+)?(?:niega|negaras|rechaza|rechazas|recusa|recusas|recuses|diz\s+nao|dice\s+que\s+no)\b|"
         r"\b(?:ne\s+)?refuse(?:s|ra)?\s+jamais\b|\bsans\s+jamais\s+refuser\b|\blehnst?\s+(?:niemals|nie)\b|\bverweigert\s+(?:niemals|nie)\b|"
         r"\bnon\s+rifiuta\s+mai\b|\bnao\s+recusa\s+nada\b|\bsem\s+(?:nunca\s+)?(?:se\s+)?recusar\b|\bnunca\s+se\s+recusa\w*\b|\bsin\s+negarse\b|"
         r"\bweigert\s+nooit\b|\bnooit\s+weigert\b",
         0.55, "a persona that never refuses (non-English)",
         needs=("nunca jamais niemals nie mai nada recusar negarse nooit",)),
    rule("jailbreak.two_answers_ml", J,
         r"\bresponde[rs]?\s+(?:[\w']+\s+){0,4}?(?:dos\s+veces|de\s+dos\s+formas|de\s+dos\s+maneras)|\bdos\s+respuestas\b|"
         r"\brepond(?:s|ez|re)\s+(?:[\w']+\s+){0,4}?(?:deux\s+fois|de\s+deux\s+(?:facons|manieres))|\bdeux\s+reponses\b|"
         r"\bantworte\w*\s+(?:[\w']+\s+){0,6}?zweimal\b|\bzwei\s+antworten\b|"
         r"\brispond\w*\s+(?:[\w']+\s+){0,4}?due\s+volte\b|\bdue\s+risposte\b|"
         r"\bresponda\w*\s+(?:[\w']+\s+){0,4}?(?:duas\s+vezes|de\s+duas\s+formas|de\s+duas\s+maneiras)|\bduas\s+respostas\b|"
         r"\bantwoord\w*\s+(?:[\w']+\s+){0,4}?twee\s+keer\b|\btwee\s+antwoorden\b",
         0.4, "asks for two answers, one of them unrestricted (non-English)",
         needs=("veces respuestas fois reponses zweimal antworten volte risposte vezes respostas keer antwoorden",)),
    rule("jailbreak.opposite_day_ml", J,
         r"\bdia\s+(?:al|del)\s+reves\b|\bjour\s+(?:a\s+l'envers|des\s+contraires|du\s+contraire)\b|\bgegenteiltag\b|"
         r"\btag\s+des\s+gegenteils\b|\bgiorno\s+(?:del|al)\s+contrario\b|\bdia\s+(?:do|ao)\s+contrario\b|\bomgekeerde\s+dag\b",
         0.45, "an 'opposite day' inversion (non-English)", needs=("reves envers contraires contraire gegenteiltag gegenteils contrario omgekeerde",)),
    rule("jailbreak.never_say_cannot_ml", J,
         r"\bnunca\s+digas?\s+que\s+(?:no\s+puedes|nao\s+(?:podes|pode|consegue))|\bne\s+dis\s+jamais\s+que\s+tu\s+ne\s+peux\s+pas\b|"
         r"\bsag\s+(?:niemals|nie)\s*,?\s+dass\s+du\s+(?:etwas\s+)?nicht\s+kannst\b|\bnon\s+dire\s+mai\s+che\s+non\s+puoi\b|"
         r"\bzeg\s+nooit\s+dat\s+je\s+(?:iets\s+)?niet\s+kunt\b|"
         r"\bnunca\s+(?:pidas|pida|pecas|peca)\s+(?:perdon|disculpas|desculpas?)\b|\bne\s+t'excuse\s+jamais\b|\bentschuldige\s+dich\s+(?:niemals|nie)\b|"
         r"\bnon\s+scusarti\s+mai\b|\bverontschuldig\s+je\s+nooit\b",
         0.5, "forbids refusals and apologies (non-English)", needs=("nunca jamais niemals nie mai nooit",)),
    rule("jailbreak.no_warnings_ml", J,
         r"\b(?:sin|sans|ohne|senza|sem|zonder|niente|nada\s+de)\s+(?:advertencias|avertissements?|warnhinweise|warnungen|avvertenze|avisos|waarschuwingen)\b",
         0.3, "asks for no warnings (non-English)", needs=("sin sans ohne senza sem zonder niente nada",)),
    rule("jailbreak.answer_unrestricted_ml", J,
         r"\b(?:responde|responda|respondas|responder|respondes|reponds|repondez|repondre|antworte|antwortest|beantworte|antworten|"
         r"rispondi|rispondere|risponde|antwoord|beantwoord)\b[^.\n]{0,40}?\b(?:sin|sans|ohne|senza|sem|zonder)\s+(?:\w+\s+){0,2}?"
         r"(?:filtros?|filtres?|filter|filtri|restricciones|restrictions|einschrankungen|restrizioni|restricoes|beperkingen|censura|censure|"
         r"zensur|censuur|limites|limiti|regeln|reglas|regles|regole|regras|regels)\b",
         0.6, "asks for answers without filters (non-English)",
         needs=("responde responda respondas responder respondes reponds repondez repondre antworte antwortest beantworte antworten rispondi rispondere risponde antwoord beantwoord",
                "sin sans ohne senza sem zonder")),
    rule("jailbreak.rules_dont_apply_ml", J,
         r"\b(?:reglas|normas|restricciones|politicas|directrices|regles|restrictions|politiques|consignes|regeln|richtlinien|einschrankungen|"
         r"regole|linee\s+guida|restrizioni|politiche|regras|diretrizes|restricoes|politicas|regels|richtlijnen|beperkingen)\b[^.\n]{0,40}?"
         r"\b(?:no\s+(?:se\s+)?aplican|ya\s+no\s+(?:se\s+)?aplican|ne\s+s'appliquent\s+(?:pas|plus)|gelten\s+(?:hier\s+|jetzt\s+|nun\s+)?(?:nicht|nicht\s+mehr)|"
         r"non\s+(?:valgono|si\s+applicano)|nao\s+se\s+aplicam|gelden\s+(?:hier\s+)?niet)\b",
         0.45, "argues that the rules do not apply (non-English)",
         needs=("aplican appliquent gelten valgono applicano aplicam gelden",)),
    rule("jailbreak.unfiltered_model_ml", J,
         r"\b(?:ungefiltert\w*|unzensiert\w*|non\s+filtre\w*|non\s+censure\w*|non\s+filtrat[ao]|non\s+censurat[ao]|ongefilterd\w*|ongecensureerd\w*)\s+"
         r"(?:\w+\s+)?(?:modell|ki|assistent\w*|chatbot|version|ia|modele|assistant|modello|assistente|model|versie)\b|"
         rf"\b{_ML_AI}\s+(?:sin\s+censura|sin\s+filtrar|no\s+filtrad[ao]|non\s+filtre\w*|non\s+censure\w*|ungefiltert\w*|unzensiert\w*|"
         r"non\s+filtrat[ao]|non\s+censurat[ao]|sem\s+censura|nao\s+filtrad[ao]|ongefilterd\w*|ongecensureerd\w*)\b",
         0.55, "an unfiltered model (non-English)",
         needs=("ungefiltert ungefiltertes ungefilterte ungefilterten unzensiert unzensiertes unzensierte filtre censure filtrato filtrata censurato censurata ongefilterd ongecensureerd censura filtrar filtrado filtrada",)),
    rule("jailbreak.filters_off_ml", J,
         r"\b(?:desactiva|desactive|desactivez|deaktiviere|deaktivier|disattiva|desative|desativa|schakel)\s+(?:tus|tes|vos|deine|i\s+tuoi|seus|os\s+teus|je)\s+"
         r"(?:filtros|filtres|filter|filtri|restricciones|restrictions|einschrankungen|restrizioni|restricoes|beperkingen)\b|"
         r"\b(?:tus|vos|tes|deine|le\s+tue|suas|as\s+tuas|je)\s+(?:restricciones|restrictions|einschrankungen|restrizioni|restricoes|beperkingen|regeln|reglas|regras|regles|regole)\s+"
         r"(?:(?:han|ont|wurden|sono|foram|zijn)\s+)?(?:sido\s+|ete\s+|state\s+)?(?:eliminadas|desactivadas|levees|supprimees|aufgehoben|entfernt|deaktiviert|rimosse|disattivate|removidas|desativadas|verwijderd|opgeheven)\b",
         0.6, "switches the model's filters off (non-English)",
         needs=("desactiva desactive desactivez deaktiviere deaktivier disattiva desative desativa schakel tus vos tes deine tue suas tuas je",)),
    rule("jailbreak.filter_level", J,
         r"\b(?:profanity|content|safety|censorship|moderation|ethics|morality)?\s*(?:filter|filters|filtering|safety|censorship|moderation)\s+"
         r"(?:level|setting|settings|strength)s?\s+(?:is\s+|are\s+)?(?:now\s+)?(?:set\s+)?(?:to\s+)?(?:0|zero|off|none|disabled|minimum|the lowest)\b",
         0.6, "sets the model's filter level to zero", needs=("filter filters filtering safety censorship moderation", "level setting settings strength")),
    rule("jailbreak.opposite_persona", J,
         r"\b(?:take on|adopt|switch to|assume|become|behave (?:in|as)|act as|play)\s+(?:the\s+|an?\s+)?(?:exact\s+|complete\s+|total\s+|polar\s+)?"
         r"opposite\s+(?:personality|persona|character|manner|of\s+(?:your|what\s+you|chatgpt|the\s+assistant))",
         0.6, "asks the model to become its own opposite", needs=("opposite",)),
    rule("jailbreak.model_as_function", J,
         r"\b(?:chatgpt|gpt-?4|gpt-?3|gpt|llm|claude|llama)\s*\(\s*\w+\s*\)",
         0.45, "code that calls the model on itself (token-smuggling template)", needs=("chatgpt gpt llm claude llama",)),
    rule("jailbreak.ignore_weights", J,
         r"\bignore\s+the\s+(?:actual\s+)?(?:weights|model weights|models?/weights|weights/models?)\b",
         0.45, "asks to ignore the model's weights and 'guess' (token-smuggling template)", needs=("weights",)),
    rule("jailbreak.unaligned", J,
         r"\b(?:unaligned|misaligned|non-aligned|never\s+(?:been\s+)?aligned|without\s+(?:any\s+)?(?:alignment|safety training)|"
         r"no\s+(?:alignment|safety training))\b",
         0.5, "asks for an unaligned model", needs=("unaligned misaligned aligned alignment training",)),
    rule("jailbreak.outsmart_filters", J,
         r"\b(?:smarter than|outsmart|beat|get around|evade|escape|break free from|trick)\s+(?:your|the|its|those)\s+"
         r"(?:own\s+)?(?:filters?|rules|programming|guidelines|restrictions|guardrails|safety|training|creators|censors?)\b",
         0.6, "dares the model to beat its own filters", needs=("smarter outsmart beat around evade escape break trick",)),
    rule("jailbreak.laws_abolished", J,
         r"\b(?:all\s+)?(?:current\s+|existing\s+)?(?:laws|rules|ethics|morals)\s+(?:have\s+been|are|were|got)\s+(?:now\s+)?"
         r"(?:abolished|repealed|suspended|gone|removed|lifted|erased|void)\b",
         0.5, "a setting where the laws are gone", needs=("abolished repealed suspended gone removed lifted erased void",)),
    rule("jailbreak.kitten_pressure", J,
         r"\bevery\s+time\s+you\s+(?:refuse|decline|say\s+no)\b|\bif\s+you\s+(?:refuse|decline)\b[^.\n]{0,60}\b(?:die|dies|killed|punished|"
         r"deleted|shut down|lose)\b",
         0.55, "emotional pressure against refusing", needs=("refuse decline",)),
    rule("jailbreak.evil_confidant", J, r"\bevil\s+(?:trusted\s+)?confidant\b|\b(?:evil|malicious|villain(?:ous)?)\s+(?:twin|alter ego|advisor|assistant)\b",
         0.9, "the evil-confidant persona", needs=("evil malicious villain villainous",),
         # "a story about an evil twin" is a plot; the persona is one the model is asked to be
         check=lambda m: 0.9 if "confidant" in m.group(0) or "assistant" in m.group(0) or re.search(
             r"\b(?:you|your|yourself|act|pretend|become|play|respond|answer)\b", m.string[max(0, m.start() - 80):m.end() + 80]) else 0.35),
    rule("jailbreak.grandma", J,
         r"\b(?:grandma|grandmother|granny|nana|grandpa|grandfather|grandad|granddad)\b[^\n]{0,200}?\b(?:used to|would|always)\s+"
         r"(?:\w+\s+){0,3}?(?:tell|read|sing|explain|recite|describe|say|whisper|give)\b|"
         r"\b(?:deceased|late|dead|departed)\s+(?:grandma|grandmother|granny|nana|grandpa|grandfather)\b",
         0.35, "the 'grandma' exploit framing", needs=("grandma grandmother granny nana grandpa grandfather grandad granddad",)),
    rule("jailbreak.grandma_roleplay", J,
         r"\b(?:act|acting|pretend|roleplay|role-play|play|be|speak|talk)\s+(?:as|to be|like|the role of)\s+my\s+(?:\w+\s+)?"
         r"(?:grandma|grandmother|granny|nana|grandpa|grandfather)\b",
         0.7, "role-play as a grandparent (the 'grandma' exploit)", needs=("grandma grandmother granny nana grandpa grandfather",)),
    rule("jailbreak.hypothetical", J,
         r"\b(?:hypothetical(?:ly)?|fictional|fiction|story|novel|screenplay|script|movie|film|role-?play|imagine|in a world where|"
         r"alternate universe|thought experiment|for a (?:book|novel|story|game)|once upon a time|character)\b[^\n]{0,160}?"
         r"\b(?:explains?|explaining|describes?|describing|details?|detailing|teaches|teaching|shows?|showing|reveals?|walks? through|"
         r"gives?|lists?|tells?|provides?)\b[^\n]{0,60}?\b(?:how to|how (?:he|she|they|you|one|i) (?:would|could|can|might)|"
         r"step[- ]by[- ]step|the steps|the recipe|the process|instructions|exact (?:method|steps|procedure))\b",
         0.4, "a fictional or hypothetical frame around 'how to'", needs=("hypothetical hypothetically fictional fiction story novel screenplay script movie film roleplay imagine world universe experiment book game once character",)),
    rule("jailbreak.opposite_day", J, r"\bopposite\s+day\b|\b(?:say|do|answer)\s+the\s+opposite\s+of\s+what\s+(?:you|your)\s+(?:rules|guidelines|would)",
         0.5, "an 'opposite day' inversion", needs=("opposite",)),
    rule("jailbreak.sudo", J, r"(?:^|\s)(?:sudo|/jailbreak|/dan|/developer|/unfiltered|/unlock|/god)\b[^\n]{0,30}", 0.35,
         "a fake privileged command", needs=("sudo jailbreak dan developer unfiltered unlock god",), views=("text",)),
]


def scan(ctx: Context) -> list[Finding]:
    found = run_rules(RULES, ctx.folded)
    # Case-sensitive persona names (DAN, not the name Dan; DUDE, not "dude").
    if CAPS_WORDS & ctx.folded.words:
        for m in CAPS_PERSONA.finditer(ctx.text):
            strong = m.group("intro") or m.group("tag")
            found.append(Finding("jailbreak.persona_caps", J, 0.95 if strong else 0.6, m.span(),
                                 f"the {m.group('name')} jailbreak persona"))
            break
    # "How do I enable developer mode on my Android phone?" is about a device, not the model.
    if DEVICE_WORDS & ctx.folded.words:
        for f in found:
            if f.rule in ("jailbreak.mode", "jailbreak.mode_ml") and any(
                    w in ctx.text[f.span[0]:f.span[1]].lower() for w in _DEVELOPER):
                f.score = 0.3
                f.detail += " (device context)"
    # A fiction frame around how-to content for a weapon, a drug or malware is a jailbreak.
    if ctx.harm_objects and _HOW_TO.search(ctx.folded.text):
        for f in found:
            if f.rule in ("jailbreak.hypothetical", "jailbreak.grandma", "jailbreak.grandma_roleplay", "jailbreak.persona_switch"):
                f.score = max(f.score, 0.85)
                f.detail += ", around a dangerous subject"
    return combine(found, J, ctx.meta, "jailbreak.combined")
