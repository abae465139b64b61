// zod/mini ships without messages ("Invalid input" for everything); errors must name the problem, so load
// the English messages, and only those (all locales would add ~100 KB to each bundle).
import { config } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

config(en());
