export * from 'stellar-insights-ws/react';
