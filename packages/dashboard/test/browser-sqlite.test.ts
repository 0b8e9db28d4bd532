import { dashboardInBrowser } from './browser-suite.ts';

dashboardInBrowser('sqlite');
