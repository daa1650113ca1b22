export { HTML, loginPage } from './page-html.js';
export { CSS } from './viewer-css.js';
export { JS } from './viewer-js.js';
