import { configure } from "@testing-library/react";

// A page's first visit loads its lazy chunk, which a cold test run transforms first:
// give `findBy…` queries more than the default second.
configure({ asyncUtilTimeout: 5000 });
