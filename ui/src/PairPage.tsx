/**
 * Confirming a chat pairing code (the bot shows it after /pair in Telegram, Discord or Slack): the server
 * creates a ChannelPairing as this UI's approver, which the API server accepts only in that user's name,
 * and answers once the operator has paired the chat account. Afterwards that account's buttons decide as
 * the approver, so the page says which account it was.
 */
import { type FormEvent, type RefObject, useState } from 'react';
import { ApiError, confirmPairing } from './api.ts';

type Outcome =
  | { kind: 'idle' }
  | { kind: 'waiting' }
  | { kind: 'paired'; account: string; user: string }
  | { kind: 'failed'; message: string };

const CODE_SHAPE = /^[2-9A-HJ-NP-Z]{4}-?[2-9A-HJ-NP-Z]{4}$/i;

export function PairPage(props: { approver: string; headingRef: RefObject<HTMLHeadingElement | null> }) {
  const [code, setCode] = useState('');
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });
  const shaped = CODE_SHAPE.test(code.trim());

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!shaped || outcome.kind === 'waiting') return;
    setOutcome({ kind: 'waiting' });
    try {
      const paired = await confirmPairing(code.trim());
      setOutcome({ kind: 'paired', ...paired });
      setCode('');
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      const by = error instanceof ApiError && error.source === 'apiserver' ? 'The API server refused: ' : '';
      setOutcome({ kind: 'failed', message: `${by}${message}` });
    }
  };

  return (
    <section className="pair" aria-labelledby="pair-heading">
      <h2 id="pair-heading" tabIndex={-1} ref={props.headingRef}>
        Pair a chat account
      </h2>
      <p>
        In Telegram, Discord or Slack, send <code>/pair</code> to the ClosedPaw bot; it answers with a code.
        Confirm it here and that chat account’s Approve and Deny buttons decide as{' '}
        <strong className="mono">{props.approver}</strong>.
      </p>
      <p className="warning" role="note">
        Only confirm a code you asked for yourself: whoever showed it to you gets to decide in your name.
      </p>
      <form onSubmit={submit} className="decision">
        <label htmlFor="pair-code">Pairing code</label>
        <input
          id="pair-code"
          className="mono"
          value={code}
          onChange={(e) => setCode(e.target.value)}
          placeholder="ABCD-EFGH"
          autoComplete="off"
          spellCheck={false}
          maxLength={9}
          aria-describedby="pair-code-hint"
        />
        <p id="pair-code-hint" className="hint">
          Eight letters and digits, as the bot showed them.
        </p>
        <div className="buttons">
          <button type="submit" className="approve" disabled={!shaped || outcome.kind === 'waiting'}>
            {outcome.kind === 'waiting' ? 'Confirming…' : 'Confirm pairing'}
          </button>
        </div>
      </form>
      {outcome.kind === 'paired' && (
        <p className="result ok" role="status">
          Paired {outcome.account} with <span className="mono">{outcome.user}</span>: its buttons now decide
          as you.
        </p>
      )}
      {outcome.kind === 'failed' && (
        <p className="result error" role="alert">
          Not paired: {outcome.message}
        </p>
      )}
    </section>
  );
}
