// The classroom's public face: the protocol a student's mitm-lab speaks, the server the
// instructor runs, the student-side reporter and the roster the instructor's grid shows.
export * from './protocol.ts';
export * from './reporter.ts';
export * from './roster.ts';
export * from './server.ts';
