export * from 'stellar-insights-ws/compat';
