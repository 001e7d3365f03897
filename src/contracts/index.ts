/**
 * Loads every contract, in the order their schemas are listed in the OpenAPI document's
 * components (zod lists schemas with an id in the order they were defined). The entry points
 * that build the document import this first, so the committed openapi.json does not depend on
 * which route module happens to be imported first.
 */
import './common.js';
import './openai.js';
import './replicate.js';
import './credentials.js';
import './create.js';
import './task.js';
import './models.js';
import './admin.js';
