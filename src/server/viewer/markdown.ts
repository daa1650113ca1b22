/**
 * Safe Markdown for chat bodies, as HTML. Everything is escaped first, so no tag, attribute or entity from
 * a body survives; only then is a small subset turned into the few tags made here: paragraphs, line breaks,
 * `code`, ``` fences, **bold**, *italic*, and [links](https://…) with http(s) targets only.
 *
 * The function is self-contained on purpose (no imports, no helpers outside it): the viewer's script ships
 * its source text (`renderMarkdown.toString()`), so the browser runs exactly the code tested here.
 * @example renderMarkdown('**hi** <b>') // '<p><strong>hi</strong> &lt;b&gt;</p>'
 */
export function renderMarkdown(text: string): string {
  const esc = (s: string): string =>
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;');
  // Code is set aside as numbered placeholders (between U+E000, a private-use character stripped from the
  // body first) so that no emphasis or link rule touches it.
  const held: string[] = [];
  const hold = (html: string): string => {
    held.push(html);
    return `\uE000${held.length - 1}\uE000`;
  };
  let s = esc(text.replace(/\r\n?/g, '\n').replace(/\uE000/g, ''));
  s = s.replace(/(^|\n)```[^\n]*\n([\s\S]*?)\n```[ \t]*(?=\n|$)/g, (_m, lead: string, code: string) => {
    return `${lead}\n\n${hold(`<pre><code>${code}</code></pre>`)}\n\n`;
  });
  s = s.replace(/`([^`\n]+)`/g, (_m, code: string) => hold(`<code>${code}</code>`));
  // A target never holds a placeholder (code in a URL makes it no link); a label may, and is expanded below.
  s = s.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)\uE000]+)\)/g, (_m, label: string, url: string) =>
    // `url` is escaped text already: no quote can close the attribute, no `javascript:` gets this far.
    hold(`<a href="${url}" rel="noopener noreferrer" target="_blank">${label}</a>`),
  );
  s = s.replace(/\*\*(?=\S)([^\n]*?\S)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*\w])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, '$1<em>$2</em>');
  const paragraphs = s
    .split(/\n{2,}/)
    .map((p) => p.replace(/^\n+|\n+$/g, ''))
    .filter((p) => p.length > 0)
    .map((p) => {
      // A paragraph that is just a fence stays a block of its own.
      if (/^\uE000\d+\uE000$/.test(p) && held[Number(p.slice(1, -1))]?.startsWith('<pre>')) return p;
      return `<p>${p.replace(/\n/g, '<br>')}</p>`;
    });
  // Held HTML may hold placeholders itself (a code span in a link label), each for something held earlier.
  const expand = (html: string): string =>
    html.replace(/\uE000(\d+)\uE000/g, (_m, n: string) => expand(held[Number(n)] ?? ''));
  return expand(paragraphs.join(''));
}
