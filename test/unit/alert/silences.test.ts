import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SilenceBook, compileMatcher, type Silence } from '../../../src/alert/index.js';

const labels = { alertname: 'AgentAnomaly', agent: 'summarize', severity: 'major', service: 'agentwatch' };

function silence(id: string, matchers: Silence['matchers'], startsAt = 0, endsAt = 1_000): Silence {
  return { id, matchers, startsAt, endsAt, comment: 'maintenance', createdBy: 'oncall', createdAt: 0 };
}

const eq = (name: string, value: string) => ({ name, value, isRegex: false, isEqual: true });

test('a silence matches when every matcher holds, while it is active', () => {
  const book = new SilenceBook();
  book.add(silence('s1', [eq('agent', 'summarize'), eq('severity', 'major')], 100, 200));
  assert.equal(book.match(labels, 150)?.id, 's1');
  assert.equal(book.match(labels, 99), undefined, 'not yet');
  assert.equal(book.match(labels, 200), undefined, 'ended');
  assert.equal(book.match({ ...labels, severity: 'critical' }, 150), undefined, 'one matcher fails');
});

test('regular expressions match the whole value; negative matchers invert', () => {
  const book = new SilenceBook();
  book.add(silence('re', [{ name: 'agent', value: 'summ.*', isRegex: true, isEqual: true }]));
  assert.equal(book.match(labels, 1)?.id, 're');
  assert.equal(book.match({ ...labels, agent: 'xsummarize' }, 1), undefined, 'anchored');
  const not = new SilenceBook();
  not.add(silence('not', [{ name: 'severity', value: 'critical', isRegex: false, isEqual: false }]));
  assert.equal(not.match(labels, 1)?.id, 'not');
  assert.equal(not.match({ ...labels, severity: 'critical' }, 1), undefined);
});

test('a missing label is the empty string, as in Alertmanager', () => {
  const book = new SilenceBook();
  book.add(silence('empty', [eq('capability', '')]));
  assert.equal(book.match(labels, 1)?.id, 'empty');
});

test('a bad pattern is a message, and a silence with no matcher silences nothing', () => {
  assert.match(
    String(compileMatcher({ name: 'agent', value: '(', isRegex: true, isEqual: true })),
    /not a regular expression/,
  );
  assert.match(
    String(compileMatcher({ name: 'agent', value: 'a'.repeat(600), isRegex: true, isEqual: true })),
    /longer than 512/,
  );
  for (const pattern of ['(a+)+', '(a|b*)*', '(a+){2,}', '((a)+)+'])
    assert.match(
      String(compileMatcher({ name: 'agent', value: pattern, isRegex: true, isEqual: true })),
      /exponential time/,
      pattern,
    );
  for (const pattern of ['(a|aa)*', '(foo|bar)+'])
    assert.match(
      String(compileMatcher({ name: 'agent', value: pattern, isRegex: true, isEqual: true })),
      /alternatives/,
      pattern,
    );
  for (const pattern of ['summ.*', 'foo|bar', '(foo|bar)', 'a+b*', 'x\\+'])
    assert.equal(typeof compileMatcher({ name: 'agent', value: pattern, isRegex: true, isEqual: true }), 'function');
  const book = new SilenceBook();
  book.add(silence('none', []));
  assert.equal(book.match(labels, 1), undefined);
});

test('pruning drops ended silences; active lists the rest by end', () => {
  const book = new SilenceBook();
  book.add(silence('late', [eq('agent', 'a')], 0, 500), silence('early', [eq('agent', 'b')], 0, 300));
  book.add(silence('gone', [eq('agent', 'c')], 0, 100));
  assert.deepEqual(
    book.active(150).map((s) => s.id),
    ['early', 'late'],
  );
  book.prune(400);
  assert.deepEqual(
    book.active(0).map((s) => s.id),
    ['late'],
  );
});
