// The contract's imports, by their versioned names. The template's Makefile
// rewrites the version to the one of the WIT it builds against
// (guest-sdk/wit is 0.2.0, guest-sdk/wit-0.1 is 0.1.0).
import * as state from 'oktawatch:detection/state@0.2.0';
import * as log from 'oktawatch:detection/log@0.2.0';

export { state as hostState, log as hostLog };
