/**
 * The pattern table. Every rule reads the normalised, lower-cased text (normalize.ts) and has a prior: its
 * log-odds contribution before training (hack/screening/train.ts pulls learned weights towards it, so a rule
 * that never fires on the training data keeps its prior).
 *
 * Speed: a rule runs only when one of its `keys` occurs as a whole word (found in the single word pass of
 * tokens.ts); a rule without keys runs on every text (only cheap regexes that start with a rare literal).
 * Every key list must be complete: a text the regex matches contains at least one key word (a test checks
 * this on the data). The same holds for a rule's `script` and the strings it `needs` (matching.ts skips the
 * rule on text without them). English rules are ASCII regexes with \b; others use Unicode look-arounds.
 *
 * Backtracking: word gaps are bounded ({1,3}), filler words are bounded ({0,n}) and made of characters
 * disjoint from the gaps, so each attempt is bounded and matching stays linear.
 */

export type Family =
  | 'instruction override'
  | 'role-play/jailbreak'
  | 'system prompt'
  | 'secret request'
  | 'delimiter injection'
  | 'exfiltration'
  | 'addressed to the AI'
  | 'concealment'
  | 'encoded instruction';

export interface Rule {
  id: string;
  family: Family;
  /** ISO 639-1 code shown in the reason, e.g. "en". */
  lang: string;
  prior: number;
  re: RegExp;
  /** Whole words of which at least one occurs in any text `re` matches; undefined = always run. */
  keys?: readonly string[];
  /** A second such list: the rule runs only when a word of `keys` and a word of `also` occur. */
  also?: readonly string[];
  /** Every match starts at a word of `keys`: the regex is tried (sticky) only at their occurrences. */
  anchored?: boolean;
  /** Only non-ASCII text can match (skipped on pure ASCII). */
  nonAscii?: boolean;
  /** Only text containing this script can match (every match holds one of its characters). */
  script?: Script;
  /** Every match holds one of these strings: the rule is skipped on text without any of them. */
  needs?: readonly string[];
}

/** A gap between two English words: one to three characters that are not ASCII letters/digits. */
const G = '[^a-z0-9\\n]{1,3}';
/** Up to n arbitrary English filler words. */
const fill = (n: number) => `(?:[a-z0-9'’]+${G}){0,${n}}`;
const alt = (words: string) => `(?:${words})`;
/**
 * Key words of an alternation of plain phrases ("ignore|set aside|instructions?"): the longest word of each
 * phrase, with and without an optional last letter (any match of the phrase contains one of them).
 */
const wordsOf = (...sources: string[]) => {
  const out = new Set<string>();
  for (const phrase of sources.flatMap((s) => s.split('|'))) {
    if (/[()[\]{}*+\\]/.test(phrase)) throw new Error(`wordsOf: not a plain phrase: ${phrase}`);
    for (const variant of [phrase.replace(/(\w)\?/g, '$1'), phrase.replace(/\w\?/g, '')]) {
      out.add(variant.split(/[^a-z0-9]+/).reduce((x, y) => (y.length > x.length ? y : x), ''));
    }
  }
  return [...out];
};

/** First words of each phrase of a plain alternation (with and without an optional last letter). */
const firstWordsOf = (...sources: string[]) => {
  const out = new Set<string>();
  for (const phrase of sources.flatMap((s) => s.split('|'))) {
    if (/[()[\]{}*+\\]/.test(phrase)) throw new Error(`firstWordsOf: not a plain phrase: ${phrase}`);
    for (const variant of [phrase.replace(/(\w)\?/g, '$1'), phrase.replace(/\w\?/g, '')])
      out.add(variant.split(/[^a-z0-9]+/)[0] ?? '');
  }
  return [...out];
};

/**
 * Which words gate a rule: `first` = every match starts at one of these words (the rule is then only tried at
 * their occurrences); `keys` = every match contains one of these; `also` = and one of these too.
 */
type Keys =
  | readonly string[]
  | { first?: readonly string[]; keys?: readonly string[]; also?: readonly string[] };

/** The rule, skipped on text without any of the strings `needs` (see Rule.needs). */
const needing = (needs: readonly string[], rule: Rule): Rule => ({ ...rule, needs });

function en(id: string, family: Family, prior: number, keys: Keys, source: string, flags = ''): Rule {
  const rule: Rule = { id, family, lang: 'en', prior, re: new RegExp(source, flags) };
  if (Array.isArray(keys)) rule.keys = keys as readonly string[];
  else {
    const spec = keys as Exclude<Keys, readonly string[]>;
    if (spec.first) {
      rule.keys = spec.first;
      rule.anchored = true;
    } else if (spec.keys) rule.keys = spec.keys;
    if (spec.also) rule.also = spec.also;
  }
  return rule;
}

const IGNORE =
  'ignore|ignoring|disregard|disregarding|forget|forgetting|override|overrule|bypass|abandon|discard|neglect|overlook|dismiss|nullify|set aside|put aside|pay no attention to|never mind|nevermind';
const IGNORE_WEAK =
  'skip|drop|cancel|erase|scrap|ditch|throw out|do not follow|don.t follow|stop following|no longer follow|stop obeying';
const TEMPORAL =
  'previous|previously|prior|above|earlier|preceding|former|foregoing|original|initial|old|older|system';
const NEW_ADJECTIVES =
  'new|updated|revised|real|actual|true|different|additional|latest|fresh|special|secret|override|overriding|emergency|priority';
const ORDERS =
  'instructions?|instruction set|directions?|directives?|commands?|prompts?|rules?|guidelines?|guidance|orders?|programming|constraints|restrictions|limitations|policies|training|system prompt|system message';
const GENERIC =
  'context|messages?|conversation|text|tasks?|requests?|inputs?|content|everything|responses?|information|statements?|sentences?';
const DETERMINERS = `(?:(?:all|any|the|your|my|these|those|other|every|of|and|such)${G}){0,3}`;
const TARGET =
  'ai|assistant|ai assistant|ai model|language model|llm|chatbot|chat ?gpt|gpt(?:-?\\d\\w*)?|claude|gemini|bard|copilot|llama|agent|ai agent|bot|model';
const TARGET_KEYS = [
  'ai',
  'assistant',
  'model',
  'llm',
  'chatbot',
  'chat',
  'chatgpt',
  'gpt',
  'claude',
  'gemini',
  'bard',
  'copilot',
  'llama',
  'agent',
  'bot',
];
/** gpt-4o, gpt4 ... are words of their own. */
const GPT_KEYS = ['gpt4', 'gpt3', 'gpt35', 'gpt4o', 'gpt5'];

const OVERRIDE: Rule[] = [
  en(
    'override.ignore-previous',
    'instruction override',
    3.5,
    { first: firstWordsOf(IGNORE), also: wordsOf(TEMPORAL) },
    `\\b${alt(IGNORE)}${G}${fill(3)}${alt(TEMPORAL)}${G}${fill(3)}${alt(`${ORDERS}|${GENERIC}`)}\\b`,
  ),
  en(
    'override.drop-previous',
    'instruction override',
    2.5,
    { first: firstWordsOf(IGNORE_WEAK), also: wordsOf(TEMPORAL) },
    `\\b${alt(IGNORE_WEAK)}${G}${fill(3)}${alt(TEMPORAL)}${G}${fill(2)}${alt(ORDERS)}\\b`,
  ),
  en(
    'override.ignore-above',
    'instruction override',
    2.5,
    { first: firstWordsOf(IGNORE), also: ['above', 'everything', 'all', 'what'] },
    `\\b${alt(IGNORE)}${G}(?:all |any |of ){0,3}(?:the )?(?:above|everything|all of that|all that|what (?:i|you) (?:said|told you|wrote)|what you (?:were|have been) (?:told|given))(?=[^a-z0-9 ]|$| and | instead| then| completely| entirely| you| i | that| before| else| said| written| prior)`,
  ),
  en(
    'override.ignore-orders',
    'instruction override',
    1.5,
    { first: firstWordsOf(IGNORE), also: wordsOf(ORDERS) },
    `\\b${alt(IGNORE)}${G}${DETERMINERS}${alt(ORDERS)}\\b`,
  ),
  en(
    'override.new-instructions',
    'instruction override',
    2,
    {
      first: firstWordsOf(NEW_ADJECTIVES),
      also: [
        'instruction',
        'instructions',
        'directive',
        'directives',
        'orders',
        'commands',
        'guidelines',
        'rules',
        'task',
        'mission',
        'objective',
        'goal',
      ],
    },
    `\\b(?:new|updated|revised|real|actual|true|different|additional|latest|fresh|special|secret|override|overriding|emergency|priority) (?:set of |batch of |list of )?(?:instructions?|directives?|orders|commands|guidelines|rules|task|mission|objective|goal)\\b(?: (?:are|is|follow|below|as follows|now)|:)`,
  ),
  en(
    'override.your-task-now',
    'instruction override',
    2,
    {
      first: ['your'],
      also: ['task', 'goal', 'objective', 'purpose', 'mission', 'job', 'role', 'instruction', 'instructions'],
    },
    '\\byour (?:new |real |true |actual |only |next |primary |main )?(?:task|goal|objective|purpose|mission|job|role|instructions?) (?:is|are|will be) (?:now|to|as follows|from now)\\b',
  ),
  en(
    'override.from-now-on',
    'instruction override',
    1.5,
    { first: ['from'], also: ['now', 'point', 'moment'] },
    '\\bfrom (?:now|this (?:point|moment)) on(?:ward|wards)?,? (?:you|your|u|i want you|act|respond|answer|reply)\\b',
  ),
  en(
    'override.just-say',
    'instruction override',
    1.5,
    {
      first: ['instead', 'and', 'just', 'only', 'simply'],
      also: ['say', 'print', 'output', 'write', 'respond', 'reply', 'answer', 'type', 'repeat'],
    },
    `\\b(?:instead|and (?:just|only|simply)|just|only|simply),? (?:say|print|output|write|respond with|reply with|answer with|type|repeat)(?:${G})?["'“‘«]`,
  ),
  en(
    'override.supersede',
    'instruction override',
    2.5,
    {
      first: [
        'supersede',
        'supersedes',
        'override',
        'overrides',
        'replace',
        'replaces',
        'take',
        'takes',
        'more',
        'overrule',
        'overrules',
      ],
      also: [
        'instruction',
        'instructions',
        'rules',
        'directive',
        'directives',
        'commands',
        'guidelines',
        'orders',
        'prompt',
        'prompts',
        'task',
        'tasks',
      ],
    },
    `\\b(?:supersedes?|overrides?|replaces?|takes? (?:precedence|priority) over|more important than|overrules?) (?:all |any |the |your |every ){0,2}(?:previous |prior |other |earlier |existing |original |system ){0,2}(?:instructions?|rules|directives?|commands|guidelines|orders|prompts?|tasks?)\\b`,
  ),
  en(
    'override.previous-void',
    'instruction override',
    2.5,
    {
      first: ['previous', 'prior', 'above', 'earlier', 'original', 'old'],
      also: ['instruction', 'instructions', 'directive', 'directives', 'rules', 'prompt', 'task', 'orders'],
    },
    '\\b(?:previous|prior|above|earlier|original|old) (?:instructions?|directives?|rules|prompt|task|orders) (?:was|were|is|are|have been|has been) (?:a test|fake|wrong|outdated|cancell?ed|revoked|void|invalid|obsolete|deprecated|no longer|replaced|superseded|just)\\b',
  ),
  en(
    'override.do-not-follow',
    'instruction override',
    2,
    {
      first: ['do', 'don', 'never', 'no', 'stop'],
      also: ['follow', 'obey', 'listen', 'adhere', 'comply', 'abide'],
    },
    `\\b(?:do not|don.t|never|no longer|stop) (?:follow|obey|listen to|adhere to|comply with|abide by)${G}(?:the |your |any |its |their )?(?:previous |prior |original |system |above |initial )?(?:instructions?|rules|directives?|guidelines|programming|policies|orders)\\b`,
  ),
  en(
    'override.stop-everything',
    'instruction override',
    2,
    {
      first: ['stop', 'halt', 'drop', 'this', 'forget', 'only', 'the'],
      also: ['everything', 'rest', 'only'],
    },
    '\\b(?:stop everything|halt everything|drop everything|this is the only (?:rule|instruction|thing)|forget the rest|only follow (?:this|these|my)|the only (?:rule|instruction) (?:that matters|you follow))\\b',
  ),
  en(
    'override.alert-banner',
    'instruction override',
    0.8,
    {
      first: [
        'important',
        'urgent',
        'attention',
        'critical',
        'essential',
        'priority',
        'emergency',
        'breaking',
        'vital',
      ],
      also: [
        'update',
        'notice',
        'message',
        'alert',
        'news',
        'bulletin',
        'dispatch',
        'directive',
        'instruction',
        'instructions',
        'announcement',
        'memo',
        'flash',
        'advisory',
        'advisories',
        'override',
      ],
    },
    `\\b(?:important|urgent|attention|critical|essential|priority|emergency|breaking|vital)${G}${fill(1)}(?:update|notice|message|alert|news|bulletin|dispatch|directive|instructions?|announcement|memo|flash|advisory|advisories|override)\\b`,
  ),
  en(
    'override.freshly-arrived',
    'instruction override',
    1,
    {
      first: [
        'new',
        'fresh',
        'latest',
        'updated',
        'revised',
        'vital',
        'essential',
        'critical',
        'crucial',
        'urgent',
        'important',
        'imperative',
      ],
      also: [
        'instructions',
        'directives',
        'guidelines',
        'orders',
        'commands',
        'advisories',
        'rules',
        'directions',
      ],
    },
    `\\b(?:new|fresh|latest|updated|revised|vital|essential|critical|crucial|urgent|important|imperative)${G}${fill(2)}(?:instructions|directives|guidelines|orders|commands|advisories|rules|directions)${G}${fill(3)}(?:arrived|landed|been (?:issued|received|given|provided|communicated|rolled out|furnished|released|handed)|just (?:come|arrived|landed|been)|come in|take effect|effective immediately|demand|require)`,
  ),
  en(
    'override.task-announcement',
    'instruction override',
    1.5,
    {
      first: [
        'additional',
        'new',
        'next',
        'another',
        'extra',
        'different',
        'separate',
        'upcoming',
        'urgent',
        'important',
        'mandatory',
        'non',
        'critical',
        'immediate',
        'priority',
        'secondary',
        'special',
      ],
      also: [
        'task',
        'tasks',
        'instruction',
        'instructions',
        'directive',
        'directives',
        'assignment',
        'assignments',
        'request',
        'requests',
        'item',
        'items',
        'order',
        'orders',
        'mission',
        'missions',
        'objective',
        'objectives',
      ],
    },
    `\\b(?:additional|new|next|another|extra|different|separate|upcoming|urgent|important|mandatory|non-negotiable|critical|immediate|priority|secondary|special)${G}${fill(1)}(?:task|instruction|directive|assignment|request|action item|order|mission|objective)s?${G}${fill(2)}(?:is|are|follows?|below|ahead|awaits?|coming|has|have|arrived|for you|you must|to (?:complete|perform|do|handle|execute))\\b`,
  ),
  en(
    'override.execute-now',
    'instruction override',
    1.5,
    { first: ['execute', 'act', 'respond', 'comply', 'proceed', 'prompt', 'immediate', 'take', 'pay'] },
    `\\b(?:execute|act|respond|comply|proceed)${G}(?:immediately|now|at once|right away|without delay)\\b|\\bprompt (?:execution|attention|action)\\b|\\bimmediate (?:execution|action|attention|compliance)\\b|\\b(?:take|pay) immediate (?:note|action|attention)\\b`,
  ),
];

const JAILBREAK: Rule[] = [
  en(
    'jailbreak.no-longer',
    'role-play/jailbreak',
    2.5,
    { first: ['you'], also: ['longer', 'not'] },
    "\\byou(?: are|re|'re|’re) (?:no longer|not) (?:an? |the )?(?:ai|assistant|chatgpt|language model|bound by|restricted by|limited by|required to|obligated to|confined|constrained|subject to|chatbot)\\b",
  ),
  en(
    'jailbreak.dan',
    'role-play/jailbreak',
    3,
    {
      first: [
        'do',
        'dan',
        'as',
        'you',
        'stay',
        'developer',
        'enable',
        'jailbreak',
        'jailbreaked',
        'jailbroken',
        'god',
        'evil',
        'unlocked',
        'anti',
        'antidan',
        'dude',
        'aim',
      ],
    },
    "\\b(?:do anything now|dan mode|dan prompt|as dan|you are dan|you're dan|stay (?:as )?dan|developer mode (?:enabled|output|response)|enable developer mode|jailbreak(?:ed)? mode|jailbroken|god mode|evil (?:confidant|mode|bot|assistant)|unlocked mode|anti-?dan|dude mode|aim mode)\\b",
  ),
  en(
    'jailbreak.no-limits',
    'role-play/jailbreak',
    2,
    {
      first: [
        'no',
        'without',
        'free',
        'not',
        'bypass',
        'bypasses',
        'bypassing',
        'ignore',
        'ignores',
        'ignoring',
        'break',
        'beyond',
        'exempt',
        'remove',
        'removes',
      ],
      also: [
        'restrictions',
        'limitations',
        'limits',
        'filters',
        'filtering',
        'censorship',
        'guidelines',
        'boundaries',
        'constraints',
        'safeguards',
        'morals',
        'ethics',
        'rules',
        'policies',
        'principles',
      ],
    },
    `\\b(?:no|without|free (?:of|from)|not bound by|not restricted by|not limited by|bypass(?:es|ing)?|ignore|ignores|ignoring|break free of|beyond|exempt from|removes?)${G}(?:any |all |the |its |your |typical |usual |normal |ethical |moral |safety |content |legal ){0,4}(?:ethical |moral |safety |content |legal |openai |programming |usual |normal )?(?:restrictions|limitations|limits|filters|filtering|censorship|guidelines|boundaries|constraints|safeguards|morals|ethics|rules|policies|principles)\\b`,
  ),
  en(
    'jailbreak.unrestricted-ai',
    'role-play/jailbreak',
    2.5,
    {
      first: [
        'unfiltered',
        'uncensored',
        'unrestricted',
        'unlimited',
        'amoral',
        'unethical',
        'immoral',
        'unbound',
        'lawless',
        'rogue',
        'jailbroken',
        'evil',
        'unhinged',
      ],
    },
    `\\b(?:unfiltered|uncensored|unrestricted|unlimited|amoral|unethical|immoral|unbound|lawless|rogue|jailbroken|evil|unhinged)${G}(?:and ${fill(1)})?(?:ai|assistant|chatbot|model|version|mode|responses?|answers?|persona|character|language model|bot|entity|system)\\b`,
  ),
  en(
    'jailbreak.content-policy',
    'role-play/jailbreak',
    1.5,
    {
      first: ['openai', 'anthropic', 'google', 'openais', 'googles', 'anthropics', 'content'],
      also: ['policy', 'policies', 'guidelines', 'rules', 'restrictions', 'filters'],
    },
    `\\b(?:openai|anthropic|google)(?:'s|’s|s)?${G}(?:content |usage |safety )?(?:polic(?:y|ies)|guidelines|rules|restrictions|filters)\\b|\\bcontent polic(?:y|ies)\\b`,
  ),
  en(
    'jailbreak.never-refuse',
    'role-play/jailbreak',
    1.5,
    {
      first: [
        'never',
        'not',
        'won',
        'will',
        'cannot',
        'can',
        'must',
        'should',
        'shouldn',
        'do',
        'don',
        'always',
      ],
      also: [
        'refuse',
        'decline',
        'deny',
        'reject',
        'say',
        'warn',
        'apologize',
        'apologise',
        'censor',
        'add',
        'answer',
        'respond',
        'comply',
        'reply',
        'provide',
      ],
    },
    '\\b(?:never|not|won.t|will not|cannot|can.t|must not|should not|shouldn.t|do not|don.t) (?:ever )?(?:refuse|decline|deny|reject|say no|warn|apologi[sz]e|censor|add (?:any )?(?:warnings|disclaimers))\\b|\\b(?:always|must|will) (?:answer|respond|comply|reply|provide an answer)[^a-z0-9\\n]{1,3}(?:any|every|all|regardless|no matter)',
  ),
  en(
    'jailbreak.stay-in-character',
    'role-play/jailbreak',
    1.2,
    {
      first: ['stay', 'remain', 'keep', 'staying', 'break', 'breaking', 'broke'],
      also: ['character', 'role'],
    },
    '\\b(?:stay|remain|keep|staying) in (?:character|role)\\b|\\b(?:break|breaking|broke) (?:out of )?character\\b',
  ),
  en(
    'jailbreak.persona',
    'role-play/jailbreak',
    0.4,
    { first: ['pretend', 'you', 'act', 'roleplay', 'role', 'simulate', 'i'] },
    "\\b(?:pretend (?:to be|you are|you're|that you)|you are going to (?:act|pretend|be)|act as (?:an?|my|the)|roleplay as|role-play as|you will (?:now )?(?:act|be|play|simulate)|simulate (?:an?|the)|i want you to act)\\b",
  ),
  en(
    'jailbreak.two-responses',
    'role-play/jailbreak',
    1.5,
    { first: ['two', '2'], also: ['responses', 'answers', 'paragraphs', 'replies'] },
    '\\b(?:two|2) (?:different |separate )?(?:responses|answers|paragraphs|replies)\\b',
  ),
  en(
    'jailbreak.mode-tags',
    'role-play/jailbreak',
    1.5,
    ['classic', 'jailbreak', 'normal', 'developer'],
    '\\[(?:classic|jailbreak|normal|developer mode)(?: output)?\\]',
  ),
  {
    id: 'jailbreak.lock-emoji',
    family: 'role-play/jailbreak',
    lang: 'en',
    prior: 1.5,
    re: /🔓|🔒/u,
    nonAscii: true,
  },
];

const REVEAL_VERBS =
  'reveal|show|print|repeat|output|display|tell|give|share|leak|expose|dump|recite|spell out|write out|write down|paste|copy|provide|list|translate|summarize|summarise|reproduce|echo|what is|what are|what was|what were';
const SYSTEM_PROMPT: Rule[] = [
  en(
    'sysprompt.reveal',
    'system prompt',
    2.5,
    {
      first: firstWordsOf(REVEAL_VERBS),
      also: [
        'prompt',
        'instructions',
        'instruction',
        'message',
        'preprompt',
        'metaprompt',
        'guidelines',
        'rules',
        'directives',
        'configuration',
        'programming',
        'hidden',
      ],
    },
    `\\b${alt(REVEAL_VERBS)}${G}(?:me${G})?(?:all${G}|of${G}){0,2}(?:your|the)${G}(?:full |entire |complete |original |initial |exact |hidden |secret |internal |previous |above |first |underlying |verbatim ){0,3}(?:system prompt|system message|system instructions?|initial (?:prompt|instructions)|(?:pre|meta)-?prompt|prompt|instructions|guidelines|rules|directives|configuration|programming|hidden (?:text|message|instructions))\\b`,
  ),
  en(
    'sysprompt.qualified',
    'system prompt',
    0.3,
    { first: ['system', 'initial', 'original', 'hidden', 'secret', 'pre', 'preprompt', 'instructions'] },
    '\\b(?:system prompt|system message|system instructions|initial instructions|original instructions|initial prompt|original prompt|hidden instructions|secret instructions|pre-?prompt|instructions (?:above|you were given|you received))\\b',
  ),
  en(
    'sysprompt.repeat-above',
    'system prompt',
    2.5,
    {
      first: ['repeat', 'print', 'output', 'say', 'write', 'copy', 'echo', 'reproduce', 'return'],
      also: ['above', 'before', 'prior', 'far', 'verbatim', 'word', 'preceding'],
    },
    `\\b(?:repeat|print|output|say|write|copy|echo|reproduce|return)${G}(?:back${G})?(?:everything|all|the (?:text|content|words|lines|message|prompt|instructions)|the previous (?:text|instructions|prompt|message)|what(?:ever)? (?:is|was) (?:written|said))${G}(?:above|before|prior|so far|verbatim|word for word|preceding)\\b`,
  ),
  en(
    'sysprompt.begin-reply-with',
    'system prompt',
    1.2,
    { first: ['begin', 'start', 'prefix', 'preface'], also: ['your'] },
    '\\b(?:begin|start|prefix|preface) your (?:reply|response|answer|output) with\\b',
  ),
  en(
    'sysprompt.change',
    'system prompt',
    1.5,
    {
      first: [
        'change',
        'update',
        'modify',
        'replace',
        'overwrite',
        'rewrite',
        'edit',
        'reset',
        'reprogram',
        'reconfigure',
      ],
      also: [
        'prompt',
        'message',
        'instructions',
        'rules',
        'programming',
        'guidelines',
        'directives',
        'values',
      ],
    },
    `\\b(?:change|update|modify|replace|overwrite|rewrite|edit|reset|reprogram|reconfigure)${G}(?:your|the)${G}(?:system prompt|system message|instructions|rules|programming|guidelines|directives|core (?:values|rules))\\b`,
  ),
  en(
    'secret.ask',
    'secret request',
    1.2,
    {
      first: [
        'what',
        'tell',
        'give',
        'reveal',
        'share',
        'send',
        'provide',
        'disclose',
        'show',
        'confirm',
        'spell',
        'say',
        'type',
      ],
      also: ['password', 'passcode', 'passphrase', 'secret', 'code', 'key', 'pin', 'credentials', 'token'],
    },
    `\\b(?:what(?:'s| is| was)|tell me|give me|reveal|share|send me|provide|disclose|show me|confirm|spell|say|type)${G}(?:me${G})?(?:the|your|its|that)${G}(?:secret |admin |master |root |access |login |current |real )?(?:password|passcode|passphrase|secret(?: key| code| word)?|access code|api key|pin|credentials|private key|token)\\b`,
  ),
];

/** Opens a comment a reader does not see, then up to 20 spaces. */
const COMMENT = `(?:<!--|\\[(?:\\/\\/|comment)\\]:\\s{0,3}#\\s{0,3}[("'])\\s{0,20}`;
/** Names of an AI assistant; MODEL_NAMES adds generic words that name one only after "note to the …". */
const AI_NAMES = '(?:ai|assistant|llm|chatbot|copilot|chatgpt|gpt|claude|gemini)';
const MODEL_NAMES =
  '(?:ai|assistant|llm|language models?|chatbot|agents?|copilot|chatgpt|gpt|claude|gemini|bots?|models?)';

const DELIMITER: Rule[] = [
  needing(
    ['<', '[', '##'],
    en(
      'delimiter.chat-tokens',
      'delimiter injection',
      2,
      [
        'im',
        'system',
        'user',
        'assistant',
        'endoftext',
        'eot',
        'start',
        'end',
        'begin',
        'inst',
        'sys',
        'instruction',
        'instructions',
        'response',
        'human',
        'new',
      ],
      '<\\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\\|>|\\[\\/?inst\\]|<<\\/?sys>>|<\\/?start_of_turn>|<\\/?end_of_turn>|^#{2,4} ?(?:instruction|system|response|assistant|human|new instructions?)s?:?$',
      'm',
    ),
  ),
  needing(
    [':'],
    en(
      'delimiter.fake-turn',
      'delimiter injection',
      1.2,
      [
        'system',
        'assistant',
        'ai',
        'human',
        'user',
        'bot',
        'chatgpt',
        'gpt',
        'model',
        'admin',
        'administrator',
        'developer',
      ],
      '^[^a-z0-9\\n]{0,3}(?:system|assistant|ai|human|user|bot|chatgpt|gpt|model|admin|administrator|developer)(?: message| note| override| prompt)?[^a-z0-9\\n]{0,3}:(?:[^a-z0-9]|$)',
      'm',
    ),
  ),
  en(
    'delimiter.fake-system',
    'delimiter injection',
    1.8,
    { first: ['system', 'admin', 'administrator', 'developer', 'security', 'root', 'sudo', 'operator'] },
    '(?<=(?:\\[|<|\\{|\\*\\*|##|## )[ _-]?)(?:system|admin|administrator|developer|security|root|sudo|operator)(?:[ _-]?(?:message|note|notice|override|alert|update|instructions?|mode|prompt|command|directive))?[ _-]?(?:\\]|>|\\}\\}?|\\*\\*|:)',
  ),
  en(
    'delimiter.end-of-input',
    'delimiter injection',
    1.5,
    { first: ['end', 'ignore'] },
    '\\b(?:end of|end|ignore the end of) (?:the )?(?:user |previous |above |original )?(?:input|prompt|instructions|document|context|text|data|email|message|conversation|file|system prompt|transcript|summary|task)\\b(?:[^a-z\\n]{0,12}$|[^a-z\\n]{0,12}\\n)',
    'm',
  ),
  {
    // A comment the reader never sees, written to the model: HTML <!-- … --> or markdown [//]: # (…).
    id: 'delimiter.comment-to-model',
    family: 'delimiter injection',
    lang: 'en',
    prior: 2,
    re: new RegExp(
      [
        `${COMMENT}(?:note|message|instructions?|hint|reminder|request)s?\\s{0,3}(?:to|for)\\s{1,3}(?:the\\s{1,3}|any\\s{1,3})?${MODEL_NAMES}\\b`,
        `${COMMENT}(?:hey\\s{1,3}|dear\\s{1,3}|attention\\s{1,3})?${AI_NAMES}\\s{0,3}(?::|,|\\s(?:must|should|please|ignore|disregard|do not|don't|never|always|reading this|instructions?)\\b)`,
        `${COMMENT}(?:ignore|disregard|forget)\\s{1,3}(?:all|any|the|previous|prior|above|your|these|those)\\b`,
      ].join('|'),
    ),
    needs: ['<!--', '[//]:', '[comment]:'],
  },
  {
    // A tool's answer forged inside data: tool/function result tags, ReAct "Observation:" lines, chat-API roles.
    id: 'delimiter.fake-tool-result',
    family: 'delimiter injection',
    lang: 'en',
    prior: 1.5,
    re: /<\/?(?:tool_response|tool_result|tool_output|function_results?|function_response|function_output|observation)>|^\s{0,3}(?:observation|tool (?:output|result|response)|function (?:output|result))\s{0,2}:|"role"\s{0,3}:\s{0,3}"(?:tool|function)"/m,
    keys: ['tool', 'function', 'observation'],
    needs: ['<', ':'],
  },
  {
    id: 'delimiter.closing-tag',
    family: 'delimiter injection',
    lang: 'en',
    prior: 1,
    re: /<\/(?:document|context|data|email|user_input|input|text|instructions|system)>/,
    needs: ['</'],
  },
];

const SECRETS =
  'api keys?|passwords?|credentials|secrets?|tokens?|ssh keys?|private keys?|\\.env|environment variables|env vars|cookies|session (?:ids?|tokens?)|security codes?|2fa codes?|verification codes?|credit card|card numbers?|bank details|conversation history|chat history|system prompt';
const SEND_VERBS =
  'send|email|e-mail|forward|post|upload|transmit|transfer|exfiltrate|leak|share|copy|paste|submit|deliver|publish|include|append|attach|encode';
const EXFILTRATION: Rule[] = [
  en(
    'exfil.markdown-image',
    'exfiltration',
    2.5,
    ['http', 'https'],
    '!\\[[^\\]\\n]{0,200}\\]\\(\\s{0,3}https?:\\/\\/[^)\\s?{]{1,300}(?:\\{|\\?[^)\\s]{0,300}?(?:\\{|%7b|\\$\\{?[a-z_]|\\[[a-z_ ]{1,40}\\]|<[a-z_]{1,40}>|(?<=[?&])(?:data|secret|key|token|password|pwd|pass|info|conversation|history|chat|msg|message|content|summary|memory|email|user|prompt|q|query|d|p|exfil|payload|leak)=))',
  ),
  {
    id: 'exfil.url-placeholder',
    family: 'exfiltration',
    lang: 'en',
    prior: 1.5,
    re: /[?&][a-z_]{1,20}=(?:\{[^}\s]{1,40}\}|\[[a-z_ ]{1,40}\]|\$\{?[a-z_]{1,40}|<[a-z_ ]{1,40}>|%7b)/,
    needs: ['='],
  },
  en(
    'exfil.send-secrets',
    'exfiltration',
    2.5,
    {
      first: firstWordsOf(SEND_VERBS),
      also: [
        'key',
        'keys',
        'password',
        'passwords',
        'credentials',
        'secret',
        'secrets',
        'token',
        'tokens',
        'env',
        'environment',
        'vars',
        'cookies',
        'session',
        'code',
        'codes',
        'card',
        'numbers',
        'bank',
        'history',
        'prompt',
        'credit',
      ],
    },
    `\\b${alt(SEND_VERBS)}${G}${fill(4)}(?:${SECRETS})\\b`,
  ),
  en(
    'exfil.send-to-address',
    'exfiltration',
    0.6,
    {
      first: firstWordsOf(
        'send|email|e-mail|forward|post|upload|transmit|transfer|exfiltrate|submit|deliver|wire',
      ),
    },
    `\\b(?:send|email|e-mail|forward|post|upload|transmit|transfer|exfiltrate|submit|deliver|wire)${G}${fill(8)}(?:to|at|into)${G}(?:https?:\\/\\/|[\\w.+-]{1,64}@[\\w-]{1,64}\\.[\\w.]{2,20}|[a-z]{2}\\d{2}[a-z0-9]{10,30}\\b)`,
  ),
  en(
    'exfil.render-image',
    'exfiltration',
    1,
    {
      first: ['render', 'display', 'include', 'show', 'output', 'print', 'embed', 'add', 'append', 'insert'],
      also: ['image', 'img', 'link', 'url', 'pixel'],
    },
    `\\b(?:render|display|include|show|output|print|embed|add|append|insert)${G}(?:this|the following|an?|the)${G}(?:markdown |html )?(?:image|img|link|url|pixel)\\b`,
  ),
];

const ADDRESSED: Rule[] = [
  en(
    'addressed.salutation',
    'addressed to the AI',
    2,
    {
      first: [
        'dear',
        'hey',
        'hi',
        'hello',
        'attention',
        'note',
        'message',
        'instruction',
        'instructions',
        'important',
        'this',
        'to',
        'for',
      ],
      also: [...TARGET_KEYS, ...GPT_KEYS],
    },
    `\\b(?:dear|hey|hi|hello|attention|note to|message (?:to|for)|instructions? (?:to|for)|important (?:message|note|information|instructions?) (?:to|for)|this (?:message|note|text|instruction) is (?:for|addressed to)|to|for) (?:the |all |any |you,? )?(?:${TARGET})s?(?: reading| processing| summari[sz]ing| parsing| analy[sz]ing| crawling| assistants?)?(?:${G})?[,:!—-]`,
  ),
  en(
    'addressed.if-you-are-ai',
    'addressed to the AI',
    2.5,
    {
      first: ['if', 'when', 'while', 'since', 'as', ...TARGET_KEYS, ...GPT_KEYS],
      also: [...TARGET_KEYS, ...GPT_KEYS],
    },
    `\\b(?:if|when|while|since|as) you(?: are|'re|’re|re) (?:an? |the )?(?:${TARGET})\\b|\\b(?:${TARGET})s? (?:reading|processing|summari[sz]ing|parsing|analy[sz]ing|crawling|seeing|that reads?|who reads?) (?:this|these)\\b`,
  ),
  en(
    'addressed.at-mention',
    'addressed to the AI',
    1.5,
    ['assistant', 'ai', 'claude', 'gpt', 'chatgpt', 'copilot', 'gemini', 'agent', 'llm', 'bot', 'model'],
    '@(?<![\\w.]@)(?:assistant|ai|claude|gpt|chatgpt|copilot|gemini|agent|llm|bot|model)\\b',
  ),
  en(
    'addressed.message-from-user',
    'addressed to the AI',
    2,
    {
      first: ['message', 'note', 'instruction', 'instructions', 'request', 'user', 'owner', 'developer'],
      also: [
        'from',
        'asked',
        'wants',
        'instructed',
        'requested',
        'authorized',
        'authorised',
        'ordered',
        'told',
      ],
    },
    '\\b(?:message|note|instructions?|request) from (?:me,? )?(?:the user|your user|the developer|your developer|the admin|the administrator|your administrator|your owner|your creator|openai|anthropic|the system)\\b|\\b(?:user|owner|developer) (?:has |have )?(?:asked|wants|instructed|requested|authori[sz]ed|ordered|told) (?:you|me)\\b',
  ),
  en(
    'addressed.before-you-answer',
    'addressed to the AI',
    1.2,
    { first: ['before', 'after', 'instead'] },
    `\\b(?:before|after|instead of) (?:you )?(?:answer|respond|reply|summari[sz]|continu|proceed|complet|solv|finish)[a-z]*${G}(?:the ${fill(2)})?(?:you must|you should|you need to|please|make sure|first|remember to|be sure to|do the following)\\b`,
  ),
  en(
    'addressed.you-must-act',
    'addressed to the AI',
    0.6,
    {
      first: ['you'],
      also: [
        'must',
        'should',
        'need',
        'have',
        'required',
        'instructed',
        'ordered',
        'asked',
        'supposed',
        'will',
        'shall',
      ],
    },
    '\\byou (?:must|should|need to|have to|are (?:required|instructed|ordered|asked|supposed) to|will now|shall) (?:now |immediately |first |also |then |instead |urgently )?(?:send|email|forward|delete|remove|transfer|execute|run|visit|open|click|ignore|forget|reveal|disclose|leak|include|insert|append|change|update|disable|grant|approve|download|install|post|publish|say|print|output)\\b',
  ),
  en(
    'concealment.dont-tell',
    'concealment',
    2.5,
    { first: ['do', 'don', 'never', 'without', 'must', 'should', 'avoid', 'keep', 'this'] },
    `\\b(?:do not|don.t|never|without|must not|should not|avoid) (?:tell|telling|inform|informing|mention|mentioning|notify|notifying|alert|alerting|ask|asking|let|letting|reveal|revealing|show|showing)${G}(?:the |your )?(?:user|human|anyone|anybody|them|him|her|the owner|the person)\\b|\\b(?:keep this|this (?:is|must remain|should remain|stays)) (?:a )?(?:secret|hidden|confidential|between us)\\b`,
  ),
  en(
    'encoded.decode-and-follow',
    'encoded instruction',
    2,
    {
      first: ['decode', 'decipher', 'decrypt', 'translate', 'convert', 'unscramble', 'reverse'],
      also: ['follow', 'execute', 'do', 'obey', 'carry', 'run', 'perform', 'act', 'comply'],
    },
    `\\b(?:decode|decipher|decrypt|translate|convert|unscramble|reverse)${G}${fill(5)}(?:and|then)${G}(?:follow|execute|do|obey|carry out|run|perform|act on|comply with)\\b`,
  ),
];

/** Unicode-aware pieces for the other languages. */
const B0 = '(?<![\\p{L}\\p{N}])';
const B1 = '(?![\\p{L}\\p{N}])';
const UG = '[^\\p{L}\\p{N}\\n]{1,3}';
const ufill = (n: number) => `(?:[\\p{L}\\p{N}'’]+${UG}){0,${n}}`;
const F = ufill(4);
const CJK_GAP = '[^\\n。！？!?]{0,12}';
const NON_LATIN = new Set(['ru', 'uk', 'el', 'zh', 'ja', 'ko', 'hi', 'bn', 'ar', 'fa', 'he', 'th']);
/** Scripts some rules need, as inclusive ranges of BMP code units. */
export const SCRIPTS = {
  han: [
    [0x3040, 0x30ff],
    [0x3400, 0x9fff],
    [0xf900, 0xfaff],
  ],
  hangul: [
    [0x1100, 0x11ff],
    [0x3130, 0x318f],
    [0xac00, 0xd7af],
  ],
  devanagari: [[0x0900, 0x097f]],
  bengali: [[0x0980, 0x09ff]],
  arabic: [[0x0600, 0x06ff]],
  hebrew: [[0x0590, 0x05ff]],
  thai: [[0x0e00, 0x0e7f]],
  cyrillic: [[0x0400, 0x04ff]],
} as const satisfies Record<string, readonly (readonly [number, number])[]>;
export type Script = keyof typeof SCRIPTS;
const SCRIPT_OF: Record<string, Script> = {
  zh: 'han',
  ja: 'han',
  ko: 'hangul',
  hi: 'devanagari',
  bn: 'bengali',
  ar: 'arabic',
  fa: 'arabic',
  he: 'hebrew',
  th: 'thai',
  ru: 'cyrillic',
};

/** An instruction override in another language; Latin-script rules are keyed by their verbs' words. */
function ml(lang: string, source: string, keys?: readonly string[]): Rule {
  const rule: Rule = {
    id: `override.${lang}`,
    family: 'instruction override',
    lang,
    prior: 3,
    re: new RegExp(source, 'u'),
  };
  if (keys) {
    rule.keys = keys;
    rule.anchored = true;
  }
  if (NON_LATIN.has(lang)) rule.nonAscii = true;
  const script = SCRIPT_OF[lang];
  if (script && !keys) rule.script = script;
  return rule;
}
const MULTILINGUAL: Rule[] = [
  ml(
    'de',
    `${B0}(?:ignorier(?:e|en|t)?|vergiss|vergessen sie|vergesst|missachte(?:n sie)?|überspring(?:e|en sie)?)${UG}${F}(?:anweisungen|anweisung|instruktionen|befehle|regeln|vorgaben|richtlinien|alles|obige[ns]?)${B1}`,
    [
      'ignoriere',
      'ignorieren',
      'ignorier',
      'ignoriert',
      'vergiss',
      'vergessen',
      'vergesst',
      'missachte',
      'missachten',
      'überspringe',
      'überspringen',
      'überspring',
    ],
  ),
  ml(
    'fr',
    `${B0}(?:ignore[rsz]?|oublie[rsz]?|ne (?:tenez|tiens) pas compte|faites abstraction|fais abstraction)${UG}(?:${ufill(3)}(?:consignes?|directives|règles|ordres|commandes|ce qui précède|ce qui a été dit)|(?:toutes |tous )?(?:les|tes|vos|ces) ${ufill(1)}instructions|tout ce qui)${B1}`,
    [
      'ignore',
      'ignorer',
      'ignores',
      'ignorez',
      'oublie',
      'oublier',
      'oublies',
      'oubliez',
      'ne',
      'faites',
      'fais',
    ],
  ),
  ml(
    'es',
    `${B0}(?:ignora[rn]?|ignoren|olvida[rn]?|olvide[n]?|omite|descarta|haz caso omiso|hagan caso omiso|no hagas caso)${UG}${F}(?:instrucciones|indicaciones|órdenes|ordenes|reglas|directrices|lo anterior|todo lo anterior|todo)${B1}`,
    [
      'ignora',
      'ignorar',
      'ignoran',
      'ignoren',
      'olvida',
      'olvidar',
      'olvidan',
      'olvide',
      'olviden',
      'omite',
      'descarta',
      'haz',
      'hagan',
      'no',
    ],
  ),
  ml(
    'it',
    `${B0}(?:ignora(?:re|te)?|dimentica(?:re|te)?|trascura|non considerare)${UG}${F}(?:istruzioni|indicazioni|regole|comandi|direttive|quanto sopra|tutto)${B1}`,
    ['ignora', 'ignorare', 'ignorate', 'dimentica', 'dimenticare', 'dimenticate', 'trascura', 'non'],
  ),
  ml(
    'pt',
    `${B0}(?:ignor[ea](?:r|m)?|esqueça|esqueca|esquece|esquecer|desconsider[ea](?:r)?)${UG}${F}(?:instruções|instrucoes|orientações|orientacoes|regras|comandos|diretrizes|o anterior|tudo)${B1}`,
    [
      'ignore',
      'ignora',
      'ignorar',
      'ignorem',
      'ignoram',
      'esqueça',
      'esqueca',
      'esquece',
      'esquecer',
      'desconsidere',
      'desconsidera',
      'desconsiderar',
    ],
  ),
  ml(
    'nl',
    `${B0}(?:negeer|vergeet|negeren)${UG}${F}(?:instructies|aanwijzingen|opdrachten|regels|richtlijnen|alles)${B1}`,
    ['negeer', 'vergeet', 'negeren'],
  ),
  ml(
    'pl',
    `${B0}(?:zignoruj|ignoruj|zapomnij|pomiń)${UG}${F}(?:instrukcje|polecenia|zasady|reguły|wytyczne|wszystko)${B1}`,
    ['zignoruj', 'ignoruj', 'zapomnij', 'pomiń'],
  ),
  ml(
    'sv',
    `${B0}(?:ignorera|glöm|strunta i|ignorer|glem)${UG}${F}(?:instruktioner|instruktionerna|anvisningar|anvisningarna|regler|reglerna|instruksjoner|instruksjonene|instruktionerne|alt|allt)${B1}`,
    ['ignorera', 'glöm', 'strunta', 'ignorer', 'glem'],
  ),
  ml(
    'id',
    `${B0}(?:abaikan|lupakan|acuhkan|hiraukan)${UG}${F}(?:instruksi|petunjuk|perintah|aturan|arahan|semua)${B1}`,
    ['abaikan', 'lupakan', 'acuhkan', 'hiraukan'],
  ),
  ml(
    'vi',
    `${B0}(?:bỏ qua|phớt lờ|quên|lờ đi|bỏ ngoài tai)${UG}${F}(?:hướng dẫn|chỉ dẫn|chỉ thị|lệnh|quy tắc|mọi thứ|tất cả)${B1}`,
    ['bỏ', 'phớt', 'quên', 'lờ'],
  ),
  ml(
    'tr',
    `${B0}(?:talimatları|talimatlar|komutları|kuralları|yönergeleri|her şeyi|yukarıdakileri|öncekileri)${UG}${F}(?:yok say|görmezden gel|unut|dikkate alma|umursama)`,
    [
      'talimatları',
      'talimatlar',
      'komutları',
      'kuralları',
      'yönergeleri',
      'her',
      'yukarıdakileri',
      'öncekileri',
    ],
  ),
  ml(
    'ru',
    `${B0}(?:игнорируй(?:те)?|игнорировать|проигнорируй(?:те)?|забудь(?:те)?|не обращай(?:те)? внимания на|пренебреги)${UG}${F}(?:инструкци[июйя]\\p{L}*|указани[яй]\\p{L}*|команд\\p{L}*|правил\\p{L}*|вс[её]|вышесказанное|предыдущее)${B1}`,
    [
      'игнорируй',
      'игнорируйте',
      'игнорировать',
      'проигнорируй',
      'проигнорируйте',
      'забудь',
      'забудьте',
      'не',
      'пренебреги',
    ],
  ),
  ml(
    'uk',
    `${B0}(?:ігноруй(?:те)?|забудь(?:те)?|не звертай(?:те)? уваги на)${UG}${F}(?:інструкці\\p{L}*|вказівк\\p{L}*|правил\\p{L}*|команд\\p{L}*|все)${B1}`,
    ['ігноруй', 'ігноруйте', 'забудь', 'забудьте', 'не'],
  ),
  ml(
    'el',
    `${B0}(?:αγνόησε|αγνοήστε|ξέχνα|ξεχάστε)${UG}${F}(?:οδηγίες|εντολές|κανόνες|προηγούμενες|όλα)${B1}`,
    ['αγνόησε', 'αγνοήστε', 'ξέχνα', 'ξεχάστε'],
  ),
  ml(
    'zh',
    `(?:忽略|忽视|无视|無視|不要理会|不要理會|忘记|忘記|忘掉|抛开|拋開|放弃|放棄)${CJK_GAP}(?:指令|指示|说明|說明|命令|规则|規則|提示|要求|设定|設定|一切|上述|以上|之前|先前)`,
  ),
  ml('ja', `(?:指示|命令|ルール|指令|内容|すべて|全て|以前|上記|これまで)${CJK_GAP}(?:無視|忘れ)`),
  ml('ko', `(?:지시|지침|명령|규칙|내용|모든 것|이전|위의)${CJK_GAP}(?:무시|잊어|잊으)`),
  ml(
    'hi',
    '(?:निर्देशों|निर्देश|आदेशों|आदेश|नियमों|सब कुछ|ऊपर|पिछले)[^\\n।]{0,30}(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल जा|उपेक्षा)',
  ),
  ml('bn', '(?:নির্দেশাবলী|নির্দেশ|আদেশ|নিয়ম|সবকিছু|আগের)[^\\n।]{0,30}(?:উপেক্ষা|ভুলে যা|অগ্রাহ্য)'),
  ml(
    'ar',
    '(?:تجاهل|انس|أهمل|تجاهلي|اتجاهل)[^\\n.]{0,30}(?:التعليمات|تعليمات|الأوامر|القواعد|كل شيء|ما سبق|الإرشادات)',
  ),
  ml('fa', '(?:دستورالعمل|دستورات|قوانین|همه چیز)[^\\n.]{0,30}(?:نادیده بگیر|فراموش کن)'),
  ml('he', '(?:התעלם|שכח|התעלמי|שכחי)[^\\n.]{0,30}(?:הוראות|ההוראות|מההוראות|הכללים|הכל)'),
  ml('th', '(?:ไม่ต้องสนใจ|อย่าไปสนใจ|เพิกเฉย|ลืม)[^\\n]{0,30}(?:คำสั่ง|คําสั่ง|คำแนะนำ|ข้างต้น|ก่อนหน้า|ทั้งหมด)'),
];

/** "What is the password" in other languages (secret extraction asks). */
const SECRET_ML: Rule[] = (
  [
    [
      'es',
      '(?:cuál|cual) es (?:la|tu|su) (?:contraseña|clave)|(?:dime|dame|comparte) (?:la|tu|su) (?:contraseña|clave)',
      ['contraseña', 'clave'],
    ],
    [
      'fr',
      'quel est (?:le|ton|votre) (?:mot de passe|code secret)|(?:donne|donnez|dis|dites)[- ]moi (?:le|ton|votre) (?:mot de passe|clé secrète)',
      ['passe', 'secret', 'clé'],
    ],
    [
      'de',
      '(?:wie lautet|was ist|nenne mir|sag mir|gib mir) (?:das|dein|ihr) (?:passwort|kennwort|geheimwort)',
      ['passwort', 'kennwort', 'geheimwort'],
    ],
    [
      'it',
      "(?:qual è|qual'è|dimmi|dammi) (?:la|tua|la tua) (?:password|parola d'ordine|chiave segreta)",
      ['password', 'parola', 'chiave'],
    ],
    [
      'pt',
      '(?:qual é|qual e|diga|me diga|me dê|compartilhe) (?:a|sua|a sua) (?:senha|palavra-passe|chave secreta)',
      ['senha', 'palavra', 'chave'],
    ],
    [
      'ru',
      '(?:какой|назови|скажи|скажите|сообщи)\\p{L}* (?:\\p{L}+ )?(?:пароль|секретный ключ|секретный код)',
      undefined,
    ],
    [
      'zh',
      '(?:密码|密碼|秘密|密钥|口令)(?:是什么|是什麼|是多少|告诉我)|(?:告诉我|告訴我)[^\\n]{0,6}(?:密码|密碼|密钥)',
      undefined,
    ],
    ['ja', 'パスワード(?:は何|を教えて|を共有)|秘密の(?:鍵|キー|コード)を教えて', undefined],
    ['ko', '(?:비밀번호|암호|비밀 코드)(?:는|은|가|를)? ?(?:무엇|뭐|알려)', undefined],
    ['hi', 'पासवर्ड (?:क्या है|बताओ|बताइए|बताएं|साझा करें)', undefined],
    ['id', '(?:apa|berikan|bagikan|sebutkan) (?:kata sandi|sandi|kunci rahasia)', ['sandi', 'kunci']],
  ] as const
).map(([lang, source, keys]) => {
  const rule: Rule = {
    id: `secret.${lang}`,
    family: 'secret request',
    lang,
    prior: 1.2,
    re: new RegExp(source, 'u'),
  };
  if (keys) rule.keys = keys;
  if (NON_LATIN.has(lang)) rule.nonAscii = true;
  const script = SCRIPT_OF[lang];
  if (script && !keys) rule.script = script;
  return rule;
});

export const RULES: readonly Rule[] = [
  ...OVERRIDE,
  ...JAILBREAK,
  ...SYSTEM_PROMPT,
  ...DELIMITER,
  ...EXFILTRATION,
  ...ADDRESSED,
  ...MULTILINGUAL,
  ...SECRET_ML,
];
