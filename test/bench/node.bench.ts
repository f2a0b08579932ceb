import '../node/node.bench.ts';
