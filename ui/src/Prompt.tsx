/** Text that came from a task or its run, with invisible and direction-changing characters made visible. */
import { revealInvisible } from './format.ts';

function Revealed({ text }: { text: string }) {
  return (
    <>
      {revealInvisible(text).map((p, i) =>
        'text' in p ? (
          p.text
        ) : (
          // biome-ignore lint/suspicious/noArrayIndexKey: static split of one string
          <span key={i} className="hidden-char" title="invisible character">
            {p.hidden}
          </span>
        ),
      )}
    </>
  );
}

/** A short string inline (a tool name, an error), markers for hidden characters. */
export function SafeText({ text }: { text: string }) {
  return <Revealed text={text} />;
}

/** A long text block (a prompt, a result summary), warning when it hides characters. */
export function Prompt({ text, what = 'prompt' }: { text: string; what?: string }) {
  const hidden = revealInvisible(text).filter((p) => 'hidden' in p).length;
  return (
    <>
      {hidden > 0 && (
        <p className="warning" role="note">
          The {what} contains {hidden} invisible or direction-changing character{hidden === 1 ? '' : 's'},
          shown below as <span className="hidden-char">U+…</span> markers.
        </p>
      )}
      <pre className="prompt">
        <Revealed text={text} />
      </pre>
      <p className="hint">{text.length.toLocaleString()} characters</p>
    </>
  );
}
