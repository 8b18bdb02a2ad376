// The core entry of `stellar-insights-ws`: the wasm client's API as
// wasm-bindgen generates it (functions and the types of every message), plus
// the page-wide loader the React and compat entries share.
export * from './stellar_insights_ws.js';
export { default, initSync } from './stellar_insights_ws.js';
export { loadClient, setLoader, setPageOptions, type Client, type ClientModule, type PageOptions, type RealtimeError } from './client.js';
