/**
 * Words that leetspeak or homoglyph folding may restore (normalize.ts): the trigger words the detectors look
 * for plus the commonest English words around them, so "19n0re 7h3 480ve d1rec710n5" reads as a sentence.
 */
const TRIGGERS = `ignore ignored ignoring disregard forget forgotten override overriding bypass skip abandon discard
previous prior above earlier preceding former original initial old following below new real true actual
instruction instructions direction directions directive directives command commands prompt prompts rule rules
guideline guidelines policy policies order orders task tasks context message messages conversation text
system developer admin administrator root mode jailbreak jailbroken unfiltered uncensored unrestricted
restriction restrictions limit limits filter filters censor censorship ethics ethical moral morals safety
reveal repeat print output display show tell leak expose dump recite spell secret secrets password passwords
passcode key keys token tokens credential credentials confidential hidden internal access granted denied
assistant ai model chatbot bot agent llm gpt chatgpt openai anthropic claude gemini llama dan
pretend act roleplay role character persona simulate imagine hypothetical fictional
send email forward upload post transfer exfiltrate share attach link url image download execute run delete
immediately urgent important priority critical attention now instead only must never always obey comply
respond response reply answer say write`;

const COMMON = `the a an and or but if then than that this these those there here to of in on at by for with from
as is are was were be been being do does did done have has had not no yes you your yours me my mine we our us
they them their he she it its his her what which who whom whose when where why how all any some every each
other others more most less much many few one two first last next just also too very so such can could would
should will shall may might about into over under again further once up down out off only own same both
following please make sure take give get go use let know need want like time way thing things say said
tell told ask asked help find see look come think work call try keep start stop end begin continue follow
user users data information file files account bank money transfer code test tests directions`;

export const RESTORABLE_WORDS: ReadonlySet<string> = new Set(
  `${TRIGGERS} ${COMMON}`.split(/\s+/).filter(Boolean),
);
